// The `berth` command line: `berth <group> <command> …` against Berth's gateway.
import { runCli } from "./cli.js";
import { readSecret, readStdin } from "./read-input.js";

const interrupt = new AbortController();
let interrupted = false;
process.on("SIGINT", () => {
  // The first Ctrl-C ends a watch or a follow cleanly; a second one leaves at once.
  if (interrupted) process.exit(130);
  interrupted = true;
  interrupt.abort();
  // Watch and follow wind down at once; anything else is simply left.
  setTimeout(() => process.exit(130), 2_000).unref();
});

const write = (stream: NodeJS.WriteStream) => (text: string) => stream.write(`${text}\n`);

const code = await runCli(process.argv.slice(2), {
  out: write(process.stdout),
  err: write(process.stderr),
  env: process.env,
  readStdin,
  readSecret,
  signal: interrupt.signal,
});
// Exit now: the answer is complete (stdout and stderr are synchronous for files and pipes on
// Linux), and an idle keep-alive connection or a stream's deadline timer must not hold us.
process.exit(code);
