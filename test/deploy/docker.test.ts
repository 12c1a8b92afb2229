// deploy/Dockerfile, checked as far as a machine without a Docker engine allows (the image itself is not built
// here; the README says so): its instructions parse, what it COPYs is what `npm run build` writes and the build
// context keeps it, the variables it sets are real configuration with valid values, and the compiled binary run
// with the image's environment answers the image's own HEALTHCHECK command (bash, /readyz), which fails otherwise.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { EnvSchema, loadConfig } from "../../src/config.ts";
import { buildBinary, startBinary, type ServerProcess } from "../e2e/harness.ts";
import { freePort } from "../support/net.ts";
import { DEPLOY, dockerEnv, parseDockerfile, type Instruction } from "../support/deploy.ts";

const text = await Bun.file(join(DEPLOY, "Dockerfile")).text();
const ins = parseDockerfile(text);
const one = (op: string): Instruction => {
  const found = ins.filter((i) => i.op === op);
  expect(found).toHaveLength(1);
  return found[0]!;
};
const env = dockerEnv(ins);

/** Runs the image's HEALTHCHECK command (exec form) with the image's environment and the given port. */
async function healthcheck(port: number): Promise<number> {
  const cmd = JSON.parse(one("HEALTHCHECK").args.replace(/^(--\S+\s+)*CMD\s+/, "")) as string[];
  const p = Bun.spawn(cmd, { env: { PATH: process.env.PATH, ...env, PORT: String(port) }, stdout: "ignore", stderr: "ignore" });
  return p.exited;
}

describe("deploy/Dockerfile", () => {
  test("parses into known instructions: Debian slim, Debian's ffmpeg, a non-root user, the data volume, SIGTERM", () => {
    const known = ["FROM", "RUN", "COPY", "ENV", "VOLUME", "EXPOSE", "USER", "WORKDIR", "STOPSIGNAL", "HEALTHCHECK", "ENTRYPOINT"];
    expect(ins.filter((i) => !known.includes(i.op))).toEqual([]);
    expect(ins[0]!.op).toBe("FROM");
    expect(one("FROM").args).toMatch(/^debian:[a-z]+-slim$/);
    const run = one("RUN").args;
    expect(run).toMatch(/apt-get install -y --no-install-recommends [^&]*\bffmpeg\b/);
    expect(run).toContain("rm -rf /var/lib/apt/lists/*");
    // The user is created here and is who the server runs as.
    const user = one("USER").args;
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(run).toMatch(new RegExp(`useradd [^&]*\\b${user}\\b`));
    expect(run).toContain(`chown ${user}:${user} ${env.DATA_DIR}`);
    expect(JSON.parse(one("VOLUME").args)).toEqual([env.DATA_DIR]);
    expect(one("EXPOSE").args).toBe(env.PORT);
    expect(one("STOPSIGNAL").args).toBe("SIGTERM");
    // The USER line comes after every RUN (a RUN after it would fail without root).
    expect(ins.findIndex((i) => i.op === "USER")).toBeGreaterThan(ins.findLastIndex((i) => i.op === "RUN"));
  });

  test("COPY takes what `npm run build` writes, the build context keeps it, and ENTRYPOINT runs it", async () => {
    const copy = one("COPY")
      .args.replace(/^(--\S+\s+)*/, "")
      .split(/\s+/);
    expect(copy).toHaveLength(2);
    const [src, dest] = copy as [string, string];
    const outfile = pkg.scripts["build:binary"].split(/\s+/);
    expect(outfile[outfile.indexOf("--outfile") + 1]).toBe(src);
    expect(JSON.parse(one("ENTRYPOINT").args)).toEqual([dest]);
    // deploy/Dockerfile.dockerignore (BuildKit reads it for this Dockerfile): everything out, then the binary back in.
    const ignore = (await Bun.file(join(DEPLOY, "Dockerfile.dockerignore")).text()).split("\n").filter((l) => l && !l.startsWith("#"));
    expect(ignore[0]).toBe("*");
    expect(ignore).toContain(`!${src}`);
  });

  test("every variable it sets is a real configuration variable, and the configuration loads from them", () => {
    expect(Object.keys(env).length).toBeGreaterThan(0);
    expect(Object.keys(env).filter((k) => !(k in EnvSchema.properties))).toEqual([]);
    const dataDir = mkdtempSync(join(tmpdir(), "sc-docker-env-"));
    try {
      const config = loadConfig({ ...env, DATA_DIR: dataDir });
      expect(config.HOST).toBe("0.0.0.0");
      expect(String(config.PORT)).toBe(env.PORT!);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  describe("the binary with the image's environment", () => {
    let server: ServerProcess;
    beforeAll(async () => {
      await buildBinary();
      const { DATA_DIR: _dataDir, PORT: _port, ...rest } = env;
      server = await startBinary({ env: rest });
    }, 180_000);
    afterAll(() => server?.stop("SIGKILL"));

    test("listens on every address (HOST from the image) and answers the HEALTHCHECK command", async () => {
      expect(server.stdout.some((l) => l.includes('"url":"http://0.0.0.0:'))).toBe(true);
      expect(await healthcheck(Number(new URL(server.url).port))).toBe(0);
    });

    test("the HEALTHCHECK command fails when nothing listens, and when /readyz is not 200", async () => {
      expect(await healthcheck(await freePort())).not.toBe(0);
      const notReady = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => Response.json({ error: "not_ready" }, { status: 503 }) });
      try {
        expect(await healthcheck(notReady.port!)).not.toBe(0);
      } finally {
        notReady.stop(true);
      }
    });

    test("SIGTERM, the image's STOPSIGNAL, stops it cleanly", async () => {
      expect(await server.stop(one("STOPSIGNAL").args as NodeJS.Signals)).toBe(0);
      expect(server.stdout.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
    });
  });
});
