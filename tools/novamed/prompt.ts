/**
 * A hidden prompt: reads one line from a terminal without echoing it, so an API key is neither on the
 * screen nor in the process list or shell history.
 */

/** The parts of a terminal input stream the prompt uses (process.stdin, or a fake in tests). */
export interface SecretInput {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
  setEncoding(encoding: "utf8"): unknown;
  on(event: "data", listener: (chunk: string) => void): unknown;
  removeListener(event: "data", listener: (chunk: string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

const ENTER = new Set(["\r", "\n"]);
const CANCEL = new Set(["\u0003", "\u0004"]); // Ctrl-C, Ctrl-D
const ERASE = new Set(["\u007f", "\b"]);

/**
 * Asks `question` on `output` and resolves with what was typed up to Enter, echoing nothing; null when
 * `input` is not a terminal (nothing to ask on) or the user cancels with Ctrl-C / Ctrl-D.
 */
export function promptHidden(
  question: string,
  input: SecretInput = process.stdin,
  output: { write(text: string): unknown } = process.stderr,
): Promise<string | null> {
  if (!input.isTTY || !input.setRawMode) return Promise.resolve(null);
  const setRawMode = input.setRawMode.bind(input);
  return new Promise((resolve) => {
    let typed = "";
    const finish = (answer: string | null) => {
      input.removeListener("data", onData);
      setRawMode(false);
      input.pause();
      output.write("\n");
      resolve(answer);
    };
    const onData = (chunk: string) => {
      for (const character of chunk) {
        if (ENTER.has(character)) return finish(typed);
        if (CANCEL.has(character)) return finish(null);
        typed = ERASE.has(character) ? typed.slice(0, -1) : typed + character;
      }
    };
    output.write(question);
    setRawMode(true);
    input.setEncoding("utf8");
    input.on("data", onData);
    input.resume();
  });
}
