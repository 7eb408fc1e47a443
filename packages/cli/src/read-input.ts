import { Interrupted } from "./errors.js";

/** The whole of standard input. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * One secret value. On a terminal it is typed after a prompt without being shown (Enter ends
 * it, Ctrl-C gives up); otherwise it is standard input without its final newline.
 */
export async function readSecret(name: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return (await readStdin()).replace(/\r?\n$/, "");
  process.stderr.write(`Value of ${name} (not shown): `);
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = (error?: Error) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === "\r" || char === "\n" || char === "\u0004") return finish();
        if (char === "\u0003") return finish(new Interrupted());
        if (char === "\u007f" || char === "\b") value = value.slice(0, -1);
        else value += char;
      }
    };
    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    stdin.on("data", onData);
    stdin.resume();
  });
}
