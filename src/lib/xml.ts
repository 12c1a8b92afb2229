// XML built by a tagged template that escapes every value (the same rule as the pages: data is never markup). Used
// by the RSS feeds (docs/architecture.md "Web app") and the share card's SVG (docs/architecture.md "Share cards").
// Hand-written because it is ten lines and the one thing it must get right is the escaping, tested in xml.test.ts;
// an XML builder package would add a dependency for less control over that.

const XML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

/** Text for XML: escaped, and without the control characters XML 1.0 cannot carry at all (tab, LF and CR stay). */
const xmlChar = (c: string) => {
  const code = c.charCodeAt(0);
  return code < 0x20 && c !== "\t" && c !== "\n" && c !== "\r" ? "" : code >= 0xfffe ? "" : (XML_ESCAPES[c] ?? c);
};
export const xmlText = (v: unknown) => String(v).replace(/[^\t\n\r\x20-\ufffd\u{10000}-\u{10ffff}]|[&<>"']/gu, xmlChar);

/** Markup made by `xml`: a value of this class is inserted as is, every other value is escaped. */
export class Xml {
  constructor(readonly text: string) {}
}

export function xml(strings: TemplateStringsArray, ...values: unknown[]): Xml {
  let out = strings[0]!;
  values.forEach((v, i) => {
    const part = Array.isArray(v) ? v.map((x) => (x instanceof Xml ? x.text : xmlText(x))).join("") : v instanceof Xml ? v.text : xmlText(v);
    out += part + strings[i + 1]!;
  });
  return new Xml(out);
}
