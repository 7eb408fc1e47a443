// The `berth` command line: `berth <group> <command> …` against Berth's gateway.
import { runCli } from "./cli.js";

const interrupt = new AbortController();
let interrupted = false;
process.on("SIGINT", () => {
  // The first Ctrl-C ends a watch or a follow cleanly; a second one leaves at once.
  if (interrupted) process.exit(130);
  interrupted = true;
  interrupt.abort();
});

const write = (stream: NodeJS.WriteStream) => (text: string) => stream.write(`${text}\n`);

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

process.exitCode = await runCli(process.argv.slice(2), {
  out: write(process.stdout),
  err: write(process.stderr),
  env: process.env,
  readStdin,
  signal: interrupt.signal,
});
