// deploy/sidechain.service and deploy/sidechain.env. This machine has systemd installed but not running (a
// container), so `systemd-run` cannot start the unit. What is done instead, each part real:
// - `systemd-analyze verify` and `systemd-analyze security --offline` on the unit, in a temp root;
// - the unit's keys, parsed: the hardening, the restart and stop settings, the environment;
// - the closest run: the compiled binary started as the unit would start it, with the unit's Environment= and the
//   example EnvironmentFile, in a mount namespace where / is read-only but for the state and cache directories
//   and /tmp is private (ProtectSystem=strict, ReadWritePaths, PrivateTmp), as an unprivileged user with no
//   capabilities and no_new_privs (DynamicUser, CapabilityBoundingSet=, NoNewPrivileges), under strace: it serves,
//   processes a real upload with ffmpeg, stops on SIGTERM with 0, and every system call it and ffmpeg made is one
//   SystemCallFilter= allows (the sets as `systemd-analyze syscall-filter` lists them).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EnvSchema, loadConfig } from "../../src/config.ts";
import { buildBinary } from "../e2e/harness.ts";
import { bins, lavfi, signals } from "../support/audio.ts";
import { DEPLOY, parseUnit } from "../support/deploy.ts";
import { freePort, waitFor } from "../support/net.ts";

const UNIT_FILE = join(DEPLOY, "sidechain.service");
const unitText = await Bun.file(UNIT_FILE).text();
const unit = parseUnit(unitText);
const service = unit.Service!;
const value = (key: string) => {
  expect({ key, count: service[key]?.length }).toEqual({ key, count: 1 });
  return service[key]![0]!;
};
const ANALYZE = Bun.which("systemd-analyze");
const SANDBOX_TOOLS = ["unshare", "setpriv", "strace", "mount"].filter((t) => !Bun.which(t, { PATH: `${process.env.PATH}:/usr/sbin:/sbin` }));
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** The unit's Environment= assignments, with %S (/var/lib) and %C (/var/cache) resolved to the given roots. */
function unitEnvironment(stateRoot: string, cacheRoot: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const assignment of service.Environment ?? []) {
    const eq = assignment.indexOf("=");
    env[assignment.slice(0, eq)] = assignment
      .slice(eq + 1)
      .replaceAll("%S", stateRoot)
      .replaceAll("%C", cacheRoot);
  }
  return env;
}

/** An EnvironmentFile: NAME=value lines, # comments. */
function environmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n").map((l) => l.trim())) {
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq < 1) throw new Error(`not an assignment: ${line}`);
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}
const exampleEnv = environmentFile(await Bun.file(join(DEPLOY, "sidechain.env")).text());

describe("deploy/sidechain.service: the unit's keys", () => {
  test("hardening: a dynamic user, a read-only system but for the data and ffmpeg's directories, no capabilities", () => {
    expect(value("DynamicUser")).toBe("yes");
    expect(value("NoNewPrivileges")).toBe("yes");
    expect(value("CapabilityBoundingSet")).toBe("");
    expect(value("AmbientCapabilities")).toBe("");
    expect(value("ProtectSystem")).toBe("strict");
    expect(value("ProtectHome")).toBe("yes");
    expect(value("PrivateTmp")).toBe("yes");
    expect(value("PrivateDevices")).toBe("yes");
    for (const key of ["ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups", "RestrictSUIDSGID", "LockPersonality", "RestrictRealtime"])
      expect({ key, v: value(key) }).toEqual({ key, v: "yes" });
    expect(value("RestrictAddressFamilies").split(/\s+/).sort()).toEqual(["AF_INET", "AF_INET6", "AF_UNIX"]);
    expect(service.SystemCallFilter).toEqual(["@system-service", "~@privileged @resources", "set_mempolicy"]);
    expect(value("SystemCallArchitectures")).toBe("native");
    // Bun's JIT needs writable+executable memory: this setting would kill it at start.
    expect(service.MemoryDenyWriteExecute).toBeUndefined();

    // DATA_DIR and AUDIO_TMP_DIR are the directories systemd makes for the dynamic user, and writable.
    const env = unitEnvironment("%S", "%C");
    expect(env.DATA_DIR).toBe(`%S/${value("StateDirectory")}`);
    expect(env.AUDIO_TMP_DIR).toBe(`%C/${value("CacheDirectory")}`);
    expect(value("ReadWritePaths").split(/\s+/).sort()).toEqual([env.AUDIO_TMP_DIR, env.DATA_DIR].sort());
    expect(value("WorkingDirectory")).toBe(env.DATA_DIR!);
  });

  test("runs the binary with the example EnvironmentFile, restarts on failure but not on a configuration error, stops gracefully", () => {
    expect(value("ExecStart")).toBe("/usr/local/bin/sidechain");
    expect(value("EnvironmentFile")).toBe("-/etc/sidechain/sidechain.env");
    expect(value("Restart")).toBe("on-failure");
    expect(value("RestartPreventExitStatus")).toBe("2"); // src/index.ts exits 2 on a ConfigError
    expect(value("KillSignal")).toBe("SIGTERM");
    // The server's stop: requests for SHUTDOWN_TIMEOUT_MS, then running jobs for as long again.
    const shutdownMs = Number(exampleEnv.SHUTDOWN_TIMEOUT_MS ?? (EnvSchema.properties.SHUTDOWN_TIMEOUT_MS as { default: number }).default);
    expect(Number(value("TimeoutStopSec"))).toBeGreaterThan((2 * shutdownMs) / 1000);
    expect(unit.Install!.WantedBy).toEqual(["multi-user.target"]);
  });

  test("the example EnvironmentFile and the unit's Environment= are real configuration that loads", () => {
    const root = mkdtempSync(join(process.env.TMPDIR ?? "/tmp", "sc-unit-env-"));
    try {
      const env = { ...exampleEnv, ...unitEnvironment(join(root, "lib"), join(root, "cache")) };
      expect(Object.keys(env).filter((k) => !(k in EnvSchema.properties))).toEqual([]);
      const config = loadConfig(env);
      expect(config.DATA_DIR).toBe(join(root, "lib/sidechain"));
      expect(config.HOST).toBe("127.0.0.1");
      expect(config.TRUSTED_PROXIES).toBe("127.0.0.1,::1");
      expect(config.PUBLIC_URL).toBe("https://loops.example.com");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

if (!ANALYZE) console.warn("SKIPPED systemd-analyze checks in test/deploy/systemd.test.ts: systemd is not installed");
describe.skipIf(!ANALYZE)("deploy/sidechain.service: systemd-analyze", () => {
  let root: string;
  beforeAll(() => {
    // A root with the unit where it is installed, an executable at ExecStart, and systemd's own targets.
    root = mkdtempSync(join("/tmp", "sc-unit-root-"));
    mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
    copyFileSync(UNIT_FILE, join(root, "etc/systemd/system/sidechain.service"));
    const exec = join(root, value("ExecStart"));
    mkdirSync(join(exec, ".."), { recursive: true });
    writeFileSync(exec, "#!/bin/sh\n");
    chmodSync(exec, 0o755);
    mkdirSync(join(root, "usr/lib/systemd/system"), { recursive: true });
    for (const target of new Bun.Glob("*.target").scanSync("/usr/lib/systemd/system"))
      copyFileSync(join("/usr/lib/systemd/system", target), join(root, "usr/lib/systemd/system", target));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test("systemd-analyze verify finds nothing to say", () => {
    const p = Bun.spawnSync([ANALYZE!, "verify", `--root=${root}`, "sidechain.service"], { stdout: "pipe", stderr: "pipe" });
    expect({ code: p.exitCode, out: `${p.stdout}${p.stderr}`.trim() }).toEqual({ code: 0, out: "" });
  });

  test("systemd-analyze verify does complain about a broken unit (so its silence above means something)", () => {
    writeFileSync(join(root, "etc/systemd/system/broken.service"), unitText.replace("ProtectSystem=strict", "ProtectSystem=very"));
    const p = Bun.spawnSync([ANALYZE!, "verify", `--root=${root}`, "broken.service"], { stdout: "pipe", stderr: "pipe" });
    expect(p.stderr.toString()).toContain("Failed to parse protect system value");
  });

  test("systemd-analyze security rates its exposure OK (at most 2.0 of 10)", () => {
    const p = Bun.spawnSync([ANALYZE!, "security", "--offline=yes", `--root=${root}`, "--no-pager", "sidechain.service"], { stdout: "pipe", stderr: "pipe" });
    const m = /Overall exposure level for sidechain\.service: ([\d.]+)/.exec(p.stdout.toString());
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(2);
  });
});

/** The system calls SystemCallFilter= allows: the sets without `~`, minus those with it, groups expanded. */
function allowedSyscalls(): Set<string> {
  const groups = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of Bun.spawnSync([ANALYZE!, "syscall-filter", "--no-pager"]).stdout.toString().split("\n")) {
    if (line.startsWith("@")) groups.set(line.trim(), (current = []));
    else if (line.trim() && !line.trim().startsWith("#")) current?.push(line.trim());
  }
  const expand = (name: string): string[] => (name.startsWith("@") ? (groups.get(name) ?? []).flatMap(expand) : [name]);
  // In order, as systemd merges them after a first allow list: "~" lines remove calls, later plain lines add some back.
  const allowed = new Set<string>();
  for (const filter of service.SystemCallFilter!) {
    const deny = filter.startsWith("~");
    for (const name of filter.replace(/^~/, "").split(/\s+/)) for (const call of expand(name)) deny ? allowed.delete(call) : allowed.add(call);
  }
  return allowed;
}

const sandboxSkip = !ANALYZE
  ? "systemd is not installed"
  : !isRoot
    ? "it needs root (mount namespaces)"
    : SANDBOX_TOOLS.length
      ? `${SANDBOX_TOOLS} missing`
      : "";
if (sandboxSkip) console.warn(`SKIPPED the sandboxed run in test/deploy/systemd.test.ts: ${sandboxSkip}`);
describe.skipIf(Boolean(sandboxSkip))("the binary run as the unit runs it (the closest this container allows to systemd-run)", () => {
  // Under /var/tmp, not /tmp: the sandbox mounts a private /tmp over the real one.
  const work = mkdtempSync(join("/var/tmp", "sc-unit-run-"));
  let proc: ReturnType<typeof Bun.spawn>;
  let url: string;
  const output: string[] = [];
  const summary = join(work, "out/strace.txt");

  beforeAll(async () => {
    const stateRoot = join(work, "lib");
    const cacheRoot = join(work, "cache");
    const env = { ...exampleEnv, ...unitEnvironment(stateRoot, cacheRoot) };
    // What systemd does before ExecStart: StateDirectory= and CacheDirectory= owned by the dynamic user, mode 0700.
    for (const dir of [env.DATA_DIR!, env.AUDIO_TMP_DIR!, join(work, "out")]) {
      mkdirSync(dir, { recursive: true });
      chownSync(dir, NOBODY, NOBODY);
      chmodSync(dir, 0o700);
    }
    chmodSync(work, 0o755);
    const binary = join(work, "sidechain");
    // The suite's ffmpeg and ffprobe go next to the binary (as in the release; README "Audio tools").
    const files: [string, string][] = [
      [await buildBinary(), binary],
      [bins.ffmpeg, join(work, "ffmpeg")],
      [bins.ffprobe, join(work, "ffprobe")],
    ];
    for (const [from, to] of files) {
      copyFileSync(from, to);
      chmodSync(to, 0o755);
    }
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const script = [
      "set -eu",
      "mount --make-rprivate /",
      "mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp", // PrivateTmp=yes
      ...[env.DATA_DIR, env.AUDIO_TMP_DIR, join(work, "out")].map((d) => `mount --bind '${d}' '${d}'`), // ReadWritePaths=
      "mount -o remount,bind,ro /", // ProtectSystem=strict
      `cd '${env.DATA_DIR}'`, // WorkingDirectory=
      `exec setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups --no-new-privs --bounding-set=-all --inh-caps=-all -- ` +
        `strace -f -qq -c -o '${summary}' -- '${binary}'`,
    ].join("\n");
    proc = Bun.spawn(["unshare", "--mount", "--fork", "sh", "-c", script], {
      env: {
        PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ...env,
        PORT: String(port),
        PUBLIC_URL: url,
        UPLOAD_WAIT_MS: "60000",
        LOG_LEVEL: "warn",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    for (const stream of [proc.stdout, proc.stderr] as unknown as AsyncIterable<Uint8Array>[])
      (async () => {
        for await (const chunk of stream) output.push(new TextDecoder().decode(chunk));
      })();
    await waitFor(
      async () => (await fetch(`${url}/readyz`)).ok,
      60_000,
      () => proc.exitCode !== null,
    ).catch((err) => {
      throw new Error(`${err.message}\n${output.join("")}`);
    });
  }, 180_000);
  afterAll(() => {
    if (proc?.exitCode === null) proc.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  });

  test("it is ready, processes an upload with ffmpeg, stops on SIGTERM with 0, and used only system calls the filter allows", async () => {
    const ready = (await (await fetch(`${url}/readyz`)).json()) as { checks: Record<string, string> };
    expect(ready.checks).toMatchObject({ database: "ok", storage: "ok", data_dir: "ok" });

    const reg = await fetch(`${url}/api/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "unit@example.com", username: "unit_run", password: "correct horse battery staple" }),
    });
    expect(reg.status).toBe(201);
    const { auth } = (await reg.json()) as { auth: { token: string } };
    const wav = await lavfi(join(work, "out/loop.wav"), signals.drums(3), ["-c:a", "pcm_s16le", "-f", "wav"]);
    const form = new FormData();
    form.set("audio_file", Bun.file(wav), "loop.wav");
    const up = await fetch(`${url}/api/v1/audio/upload`, { method: "POST", headers: { authorization: `Bearer ${auth.token}` }, body: form });
    const post = (await up.json()) as { status: string; mp3_url: string };
    // On failure the answer and the server's log are in the diff.
    expect({ status: up.status, post, log: up.status === 201 ? "" : output.join("") }).toMatchObject({ status: 201, post: { status: "ready" }, log: "" });
    expect((await fetch(post.mp3_url)).status).toBe(200);

    // The server is strace's child: SIGTERM goes to it, as systemd's KillSignal would.
    const stracePid = Number(readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim());
    const serverPid = Number(readFileSync(`/proc/${stracePid}/task/${stracePid}/children`, "utf8").trim().split(/\s+/)[0]);
    process.kill(serverPid, "SIGTERM");
    expect(await proc.exited).toBe(0);

    const used = readFileSync(summary, "utf8")
      .split("\n")
      .map((l) => l.trim().split(/\s+/).pop()!)
      .filter((name) => /^[a-z_0-9]+$/.test(name) && name !== "total" && name !== "syscall");
    expect(used.length).toBeGreaterThan(20);
    const allowed = allowedSyscalls();
    expect(used.filter((call) => !allowed.has(call))).toEqual([]);
  }, 120_000);
});
