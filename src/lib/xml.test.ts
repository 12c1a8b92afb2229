// The XML template (RSS feeds, share cards): every value is escaped, markup made by the template nests as is, and
// characters XML 1.0 cannot carry are dropped rather than written (a feed reader refuses the whole document).
import { describe, expect, test } from "bun:test";
import { Xml, xml, xmlText } from "./xml.ts";

describe("xml", () => {
  test("escapes the five markup characters in text and attributes", () => {
    const v = `"/><script>alert('x')</script>&amp;`;
    const escaped = "&quot;/&gt;&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;&amp;amp;";
    expect(xml`<a title="${v}">${v}</a>`.text).toBe(`<a title="${escaped}">${escaped}</a>`);
  });

  test("nests markup it made (alone or in arrays) and escapes every other value, numbers and strings alike", () => {
    const items = ["a<b", "c&d"].map((s) => xml`<i>${s}</i>`);
    expect(xml`<list n="${2}">${items}${["<raw>"]}</list>`.text).toBe('<list n="2"><i>a&lt;b</i><i>c&amp;d</i>&lt;raw&gt;</list>');
    expect(new Xml("<x/>").text).toBe("<x/>");
  });

  test("drops control characters and non-characters XML 1.0 cannot carry; keeps tab, newlines and astral characters", () => {
    expect(xmlText("a\u0000b\u0008c\u001fd\ufffe\uffffe")).toBe("abcde");
    expect(xmlText("tab\there\nline\r🎵")).toBe("tab\there\nline\r🎵");
  });
});
