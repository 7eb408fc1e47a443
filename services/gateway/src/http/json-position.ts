/**
 * The offset of the first syntax error in a JSON text, or undefined when the text is valid.
 * V8's JSON.parse messages do not always carry a position (and some quote the input, which may hold
 * a secret), so the error path scans the text itself. Iterative: deep nesting cannot overflow the stack.
 */
export function jsonErrorPosition(text: string): number | undefined {
  const n = text.length;
  const stack: string[] = [];
  let i = 0;
  type State = "value" | "valueOrClose" | "key" | "keyOrClose" | "colon" | "after";
  let state: State = "value";
  const skipSpace = () => {
    while (i < n && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r"))
      i++;
  };
  for (;;) {
    skipSpace();
    const c = text[i];
    if (state === "after") {
      const top = stack.at(-1);
      if (top === undefined) return i < n ? i : undefined;
      if (c === ",") state = top === "{" ? "key" : "value";
      else if (c === (top === "{" ? "}" : "]")) stack.pop();
      else return i;
      i++;
    } else if (state === "colon") {
      if (c !== ":") return i;
      i++;
      state = "value";
    } else if (state === "keyOrClose" && c === "}") {
      stack.pop();
      i++;
      state = "after";
    } else if (state === "key" || state === "keyOrClose") {
      if (c !== '"' || !scanString()) return i;
      state = "colon";
    } else if (state === "valueOrClose" && c === "]") {
      stack.pop();
      i++;
      state = "after";
    } else if (c === "{" || c === "[") {
      stack.push(c);
      i++;
      state = c === "{" ? "keyOrClose" : "valueOrClose";
    } else {
      const ok = c === '"' ? scanString() : c === "-" || isDigit(c) ? scanNumber() : scanLiteral();
      if (!ok) return i;
      state = "after";
    }
  }

  function scanString(): boolean {
    i++;
    while (i < n) {
      const code = text.charCodeAt(i);
      if (code === 0x22) {
        i++;
        return true;
      }
      if (code < 0x20) return false;
      if (code === 0x5c) {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return false;
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return false;
      } else i++;
    }
    return false;
  }

  function scanNumber(): boolean {
    if (text[i] === "-") i++;
    if (text[i] === "0") i++;
    else if (!digits()) return false;
    if (text[i] === ".") {
      i++;
      if (!digits()) return false;
    }
    if (text[i] === "e" || text[i] === "E") {
      i++;
      if (text[i] === "+" || text[i] === "-") i++;
      if (!digits()) return false;
    }
    return true;
  }

  function digits(): boolean {
    const start = i;
    while (isDigit(text[i])) i++;
    return i > start;
  }

  function scanLiteral(): boolean {
    let longest = 0;
    for (const word of ["true", "false", "null"]) {
      let k = 0;
      while (k < word.length && text[i + k] === word[k]) k++;
      if (k === word.length) {
        i += k;
        return true;
      }
      longest = Math.max(longest, k);
    }
    // Point at the first character that cannot continue any literal.
    i += longest;
    return false;
  }
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}
