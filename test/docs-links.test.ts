// The code cites only documents that live in this repository: README.md and the files under docs/. A citation of a
// docs/ file must name a file that exists, and a cited section must be a heading of that file, in one of two forms:
//   docs/security.md "Sessions"                        the quoted heading, exactly
//   docs/security.md, Account linking (L1–L9)          the rest of the line starts with a heading
// Notes kept outside the repository (another folder's markdown, the founders' shared notes) are not citable: a reader
// of the code cannot open them, and nothing keeps them true. Scanned: every text file under src/, test/ and scripts/,
// and the docs' own cross-references (docs/*.md, README.md).
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dir, "..");
const SCANNED_DIRS = ["src", "test", "scripts"];
const TEXT_FILE = /\.(ts|tsx|js|mjs|cjs|json|sql|sh|md|txt)$/;

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else if (TEXT_FILE.test(name)) out.push(path);
  }
  return out;
}

/** The headings of a markdown file (outside fenced code), text only. */
function headingsOf(markdown: string): string[] {
  const headings: string[] = [];
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (m) headings.push(m[1]!);
  }
  return headings;
}

type Problem = { file: string; line: number; problem: string };

/**
 * Every citation problem in one file's text. `docs` maps "docs/<name>.md" to that file's headings (absent: the
 * file does not exist).
 */
function citationProblems(file: string, text: string, docs: Map<string, string[]>, opts: { externalAllowed?: boolean } = {}): Problem[] {
  const problems: Problem[] = [];
  const lines = text.split("\n");
  for (const [i, line] of lines.entries()) {
    const at = (problem: string) => problems.push({ file, line: i + 1, problem });
    // Any markdown document named in the line: README.md (at any depth of ../) or a docs/ file.
    const before = problems.length;
    for (const m of line.matchAll(/(?<![\w/.-])((?:\.\.\/|\.\/)*)((?:[\w.-]+\/)*[\w.-]+\.md)\b/g)) {
      const path = m[2]!;
      if (path === "README.md" || path.startsWith("docs/")) continue;
      if (!opts.externalAllowed) at(`cites ${m[0]}, a document outside this repository's docs/ (cite docs/<file>.md and a section)`);
    }
    if (!opts.externalAllowed && problems.length === before && /(?<![\w/.-])(?:\.\.\/)*shared\//.test(line))
      at("cites the founders' shared notes folder, outside this repository");
    for (const m of line.matchAll(/(?<![\w/.-])docs\/([\w.-]+\.md)(?:#[\w-]+)?(?=(.*)$)/g)) {
      const doc = `docs/${m[1]}`;
      const headings = docs.get(doc);
      if (!headings) {
        at(`cites ${doc}, which does not exist`);
        continue;
      }
      const rest = m[2]!;
      // A section is quoted after a space (or ", "); a quote right after the name ends a string literal in code.
      const quoted = /^(?:\s+|,\s*)"([^"]*)("?)/.exec(rest);
      if (quoted) {
        if (!quoted[2]) at(`cites ${doc} with an unterminated section name (keep the citation on one line)`);
        else if (!headings.includes(quoted[1]!)) at(`cites section "${quoted[1]}" of ${doc}, which has no such heading`);
        continue;
      }
      const comma = /^,\s*(.+)$/.exec(rest);
      if (comma && !headings.some((h) => comma[1]!.startsWith(h) && !/^[\p{L}\p{N}]/u.test(comma[1]!.slice(h.length)))) {
        at(`cites "${doc}, ${comma[1]!.trim()}", which starts with no heading of ${doc} (quote the section: ${doc} "Heading")`);
      }
    }
  }
  return problems;
}

function docsIndex(): Map<string, string[]> {
  const index = new Map<string, string[]>();
  const dir = join(ROOT, "docs");
  if (!existsSync(dir)) return index;
  for (const name of readdirSync(dir)) if (name.endsWith(".md")) index.set(`docs/${name}`, headingsOf(readFileSync(join(dir, name), "utf8")));
  return index;
}

const format = (ps: Problem[]) => ps.map((p) => `${p.file}:${p.line}: ${p.problem}`);
// Paths built at run time, so that this file's own text cites nothing (it is scanned like every other).
const doc = (name: string) => ["docs", `${name}.md`].join("/");
const REQUIRED_DOCS = ["architecture", "plugin-contract", "security"].map(doc);

describe("citations", () => {
  const docs = docsIndex();

  test("the project's own documents exist (plugin contract, security model, architecture)", () => {
    expect([...docs.keys()].sort()).toEqual(expect.arrayContaining(REQUIRED_DOCS));
  });

  test("no file under src/, test/ or scripts/ cites a document outside the repository, or a docs/ file or section that does not exist", () => {
    const problems: Problem[] = [];
    for (const dir of SCANNED_DIRS) {
      for (const path of filesUnder(join(ROOT, dir))) problems.push(...citationProblems(relative(ROOT, path), readFileSync(path, "utf8"), docs));
    }
    expect(format(problems)).toEqual([]);
  });

  test("the docs and the README cite only docs/ files and sections that exist", () => {
    const problems: Problem[] = [];
    for (const path of [join(ROOT, "README.md"), ...filesUnder(join(ROOT, "docs"))]) {
      problems.push(...citationProblems(relative(ROOT, path), readFileSync(path, "utf8"), docs, { externalAllowed: true }));
    }
    expect(format(problems)).toEqual([]);
  });

  test("the security model defines each account rule L1–L9 that the code names", () => {
    const path = join(ROOT, doc("security"));
    const security = existsSync(path) ? readFileSync(path, "utf8") : "";
    const missing = Array.from({ length: 9 }, (_, i) => `L${i + 1}`).filter((rule) => !new RegExp(`\\*\\*${rule}\\.`).test(security));
    expect(missing).toEqual([]);
  });
});

describe("the citation checker itself", () => {
  const S = doc("security");
  const docs = new Map([[S, ["Security model", "Sessions and tokens", "Account linking (L1–L9)"]]]);
  const problems = (text: string) => citationProblems("x.ts", text, docs).map((p) => p.problem);

  test("accepts README.md, a docs/ file, a quoted heading, a line that starts with a heading, and code naming a path", () => {
    expect(problems("// see README.md and ../README.md")).toEqual([]);
    expect(problems(`// ${S}`)).toEqual([]);
    expect(problems(`// (${S} "Sessions and tokens"): opaque`)).toEqual([]);
    expect(problems(`// rules of ${S}, Account linking (L1–L9), all in this file (${S} "Security model")`)).toEqual([]);
    expect(problems(`readFileSync(join(ROOT, "${S}"), "utf8")`)).toEqual([]);
  });

  test("refuses notes outside the repository, in any spelling", () => {
    const outside = ["// see ../notes/CONTRACT" + ".md section 2", "// the contract (OTHER" + ".md section 1)", "// from ../shared" + "/notes"];
    for (const text of outside) expect(problems(text).length).toBeGreaterThan(0);
  });

  test("refuses a missing docs/ file, an unknown or unterminated section, and a comma form that names no heading", () => {
    expect(problems(`// ${doc("nowhere")}`)).toEqual([`cites ${doc("nowhere")}, which does not exist`]);
    expect(problems(`// ${S} "Sessions"`)[0]).toContain("no such heading");
    expect(problems(`// ${S} "Sessions and`)[0]).toContain("unterminated");
    expect(problems(`// ${S}, Sessionsandtokens`)[0]).toContain("starts with no heading");
    expect(problems(`// ${S}, Cookies`)[0]).toContain("starts with no heading");
    expect(problems(`// ${S} "Sessions and tokens" and ${S}, Cookies`)).toHaveLength(1);
  });
});
