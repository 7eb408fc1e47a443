import { describe, expect, it } from "vitest";
import { formatFields, formatTable, truncate } from "./table.js";

describe("formatTable", () => {
  it("aligns fixed columns two spaces apart without trailing spaces", () => {
    const table = formatTable(
      [{ header: "NAME" }, { header: "STATUS" }, { header: "ID" }],
      [
        ["weather", "RUNNING", "1"],
        ["a", "STOPPED", "22"],
      ],
    );
    expect(table.split("\n")).toEqual([
      "NAME     STATUS   ID",
      "weather  RUNNING  1",
      "a        STOPPED  22",
    ]);
  });

  it("shows the header alone for no rows, - for empty cells, and cuts long cells", () => {
    expect(formatTable([{ header: "NAME" }, { header: "X" }], [])).toBe("NAME  X");
    const table = formatTable(
      [{ header: "NAME", max: 6 }, { header: "MESSAGE" }],
      [["a-very-long-name", ""]],
    );
    expect(table.split("\n")).toEqual(["NAME    MESSAGE", "a-ver…  -"]);
  });
});

describe("formatFields and truncate", () => {
  it("aligns labels and leaves out empty values", () => {
    expect(
      formatFields([
        ["name", "w"],
        ["description", ""],
        ["generation", "2"],
      ]),
    ).toBe("name:        w\ngeneration:  2");
  });

  it("truncates on one line", () => {
    expect(truncate("line one\n  line two", 100)).toBe("line one line two");
    expect(truncate("abcdef", 4)).toBe("abc…");
  });
});
