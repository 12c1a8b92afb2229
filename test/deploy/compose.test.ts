// The compose files (deploy/compose.yaml, deploy/compose.scale-out.yaml), checked without a Docker engine: they
// parse (Bun.YAML, merge keys included), compose's interpolation fills them (and refuses to without the secrets),
// every variable they give a Sidechain instance is a real configuration variable and the configuration loads from
// them with the image's own, and ports, volumes, networks, depends_on and the services' addresses agree.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { EnvSchema, loadConfig, type Config } from "../../src/config.ts";
import { parseTrustedProxies } from "../../src/http/client-ip.ts";
import { DEPLOY, dockerEnv, interpolate as interpolateValue, interpolateAll, parseDockerfile } from "../support/deploy.ts";

type Service = {
  build?: { context: string; dockerfile: string };
  image?: string;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  networks?: string[] | Record<string, { ipv4_address?: string } | null>;
  entrypoint?: string[];
  command?: string[];
};
type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown>; networks?: Record<string, any> };

const imageEnv = dockerEnv(parseDockerfile(await Bun.file(join(DEPLOY, "Dockerfile")).text()));
const SECRETS = { PUBLIC_URL: "https://loops.example.com", JWT_SECRET: "x".repeat(48), S3_SECRET_ACCESS_KEY: "0123456789abcdef0123" };

async function load(file: string, vars: Record<string, string> = {}): Promise<Compose> {
  return interpolateAll(Bun.YAML.parse(await Bun.file(join(DEPLOY, file)).text()) as Compose, vars);
}

const ours = (c: Compose) => Object.entries(c.services).filter(([, s]) => s.build?.dockerfile === "deploy/Dockerfile");
const dependsOn = (s: Service) => (Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {}));
const networksOf = (s: Service) => (Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {}));

/** The configuration an instance gets in its container: the image's ENV, then the service's environment. */
function instanceConfig(s: Service): Config {
  const env = { ...imageEnv, ...s.environment };
  const dataDir = mkdtempSync(join(tmpdir(), "sc-compose-"));
  try {
    return loadConfig({ ...env, DATA_DIR: dataDir });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** What holds for both files: the build, known variables, volumes, depends_on and networks. */
function checkCommon(c: Compose) {
  const names = Object.keys(c.services);
  for (const [name, s] of ours(c)) {
    expect(resolve(DEPLOY, s.build!.context, s.build!.dockerfile)).toBe(join(DEPLOY, "Dockerfile"));
    const unknown = Object.keys(s.environment ?? {}).filter((k) => !(k in EnvSchema.properties));
    expect({ name, unknown }).toEqual({ name, unknown: [] });
    // The data volume is mounted where the image keeps its data.
    expect(s.volumes?.some((v) => v.split(":")[1] === imageEnv.DATA_DIR)).toBe(true);
  }
  for (const [name, s] of Object.entries(c.services)) {
    for (const d of dependsOn(s)) expect({ name, dependsOn: d, exists: names.includes(d) }).toEqual({ name, dependsOn: d, exists: true });
    for (const v of s.volumes ?? []) {
      const source = v.split(":")[0]!;
      if (source.startsWith(".") || isAbsolute(source)) {
        if (source.startsWith(".")) expect({ name, source, exists: existsSync(resolve(DEPLOY, source)) }).toEqual({ name, source, exists: true });
      } else expect({ name, volume: source, declared: source in (c.volumes ?? {}) }).toEqual({ name, volume: source, declared: true });
    }
    for (const n of networksOf(s)) expect({ name, network: n, declared: n in (c.networks ?? {}) }).toEqual({ name, network: n, declared: true });
  }
  // No dependency cycle: every service can be started after the ones it depends on.
  const started = new Set<string>();
  for (let round = 0; round < names.length && started.size < names.length; round++)
    for (const n of names) if (dependsOn(c.services[n]!).every((d) => started.has(d))) started.add(n);
  expect(started.size).toBe(names.length);
}

describe("deploy/compose.yaml (one node)", () => {
  test("parses; the instance's configuration loads; its port and volume are the image's", async () => {
    const c = await load("compose.yaml");
    checkCommon(c);
    const instances = ours(c);
    expect(instances).toHaveLength(1);
    const [, s] = instances[0]!;
    const config = instanceConfig(s);
    expect(config.PUBLIC_URL).toBe("http://localhost:8787");
    expect(config.DATABASE_KIND).toBe("sqlite");
    expect(config.STORAGE).toBe("local");
    // Published on the host's loopback, to the port the server listens on.
    expect(s.ports).toEqual([`127.0.0.1:8787:${config.PORT}`]);
    // The variables a user passes are interpolated.
    const named = instanceConfig(ours(await load("compose.yaml", { PUBLIC_URL: "https://loops.example.org", INSTANCE_NAME: "Beat club" }))[0]![1]);
    expect(named.PUBLIC_URL).toBe("https://loops.example.org");
    expect(named.INSTANCE_NAME).toBe("Beat club");
  });
});

describe("deploy/compose.scale-out.yaml", () => {
  test("refuses to be filled in without PUBLIC_URL, JWT_SECRET and the S3 secret", async () => {
    for (const missing of Object.keys(SECRETS)) {
      const vars: Record<string, string> = { ...SECRETS };
      delete vars[missing];
      await expect(load("compose.scale-out.yaml", vars)).rejects.toThrow(`required variable ${missing} is missing a value`);
    }
  });

  test("two instances on one libSQL server, one bucket and one Redis, each configuration loads, sharing the signing secret", async () => {
    const c = await load("compose.scale-out.yaml", SECRETS);
    checkCommon(c);
    const instances = ours(c);
    expect(instances.map(([n]) => n)).toEqual(["sidechain-a", "sidechain-b"]);
    const configs = instances.map(([, s]) => instanceConfig(s));
    for (const config of configs) {
      expect(config.DATABASE_KIND).toBe("libsql");
      expect(config.STORAGE).toBe("s3");
      expect(config.JWT_SECRET).toBe(SECRETS.JWT_SECRET);
      expect(config.PUBLIC_URL).toBe(SECRETS.PUBLIC_URL);
      expect(config.CDN_BASE_URL).toBe(`${SECRETS.PUBLIC_URL}/cdn`);
    }
    expect(new Set(configs.map((k) => k.JOB_WORKER_ID)).size).toBe(2);
    // Each instance has its own DATA_DIR volume.
    expect(new Set(instances.map(([, s]) => s.volumes!.find((v) => v.endsWith(`:${imageEnv.DATA_DIR}`)))).size).toBe(2);

    const [config] = configs as [Config];
    const host = (url: string) => new URL(url).host;
    const service = (h: string) => c.services[h.split(":")[0]!];
    // The database, the store and Redis are services of this file, started before the instances.
    for (const [url, what] of [
      [config.DATABASE_URL!, "sqld"],
      [config.S3_ENDPOINT!, "minio"],
      [config.REDIS_URL!, "redis"],
    ] as const) {
      expect(host(url).split(":")[0]).toBe(what);
      expect(service(host(url))).toBeDefined();
    }
    for (const [, s] of instances) expect(dependsOn(s).sort()).toEqual(["minio-bucket", "redis", "sqld"]);
    // MinIO's root credentials are the instances' S3 credentials; the bucket job creates the bucket they use.
    const minio = c.services.minio!;
    expect(minio.environment!.MINIO_ROOT_USER).toBe(config.S3_ACCESS_KEY_ID!);
    expect(minio.environment!.MINIO_ROOT_PASSWORD).toBe(config.S3_SECRET_ACCESS_KEY!);
    const bucketJob = c.services["minio-bucket"]!;
    expect(bucketJob.entrypoint!.join(" ")).toContain(`mc mb --ignore-existing local/${config.S3_BUCKET}`);
    expect(bucketJob.environment!.MC_HOST_local).toBe(`http://${config.S3_ACCESS_KEY_ID}:${config.S3_SECRET_ACCESS_KEY}@${host(config.S3_ENDPOINT!)}`);
  });

  test("only nginx is published; its fixed address is the instances' TRUSTED_PROXIES and its config names both instances and the bucket", async () => {
    const c = await load("compose.scale-out.yaml", SECRETS);
    const published = Object.entries(c.services).filter(([, s]) => s.ports?.length);
    expect(published.map(([n]) => n)).toEqual(["nginx"]);
    const nginx = c.services.nginx!;
    const address = (nginx.networks as Record<string, { ipv4_address: string }>).backend!.ipv4_address;
    const subnet = c.networks!.backend.ipam.config[0].subnet as string;
    expect(parseTrustedProxies(subnet).check(address, "ipv4")).toBe(true);
    for (const [, s] of ours(c)) {
      const trusted = parseTrustedProxies(instanceConfig(s).TRUSTED_PROXIES);
      expect(trusted.check(address, "ipv4")).toBe(true);
      // Only the proxy: another container on the network is not believed.
      expect(trusted.check(subnet.replace(/\.0\/24$/, ".11"), "ipv4")).toBe(false);
    }
    // The mounted nginx config: its upstream is exactly the instances on their port, /cdn/ reads the instances' bucket.
    const conf = nginx.volumes!.find((v) => v.endsWith(":/etc/nginx/conf.d/default.conf:ro"))!.split(":")[0]!;
    const text = await Bun.file(resolve(DEPLOY, conf)).text();
    const upstream = [...text.matchAll(/^\s*server ([a-z0-9-]+):(\d+)\b/gm)].map((m) => `${m[1]}:${m[2]}`);
    const instances = ours(c);
    expect(upstream).toEqual(instances.map(([n, s]) => `${n}:${instanceConfig(s).PORT}`));
    const config = instanceConfig(instances[0]![1]);
    expect(text).toContain(`proxy_pass ${config.S3_ENDPOINT}/${config.S3_BUCKET}/;`);
    expect(text).toMatch(new RegExp(`location ${new URL(config.CDN_BASE_URL!).pathname}/ \\{`));
    // The snippet the config includes is mounted where it is included from.
    const include = /include (\S+);/.exec(text)![1]!;
    expect(nginx.volumes!.some((v) => v.split(":")[1] === include && existsSync(resolve(DEPLOY, v.split(":")[0]!)))).toBe(true);
  });
});

describe("interpolation (compose's rules, as the tests above apply them)", () => {
  test("$VAR in braces, defaults, required values and $$", () => {
    // Written with %{ for ${ (a "${" in a plain string reads like a template literal gone wrong).
    const interpolate = (value: string, vars: Record<string, string>) => interpolateValue(value.replaceAll("%{", "${"), vars);
    expect(interpolate("%{A}/x", { A: "1" })).toBe("1/x");
    expect(interpolate("%{A:-d}", {})).toBe("d");
    expect(interpolate("%{A:-d}", { A: "" })).toBe("d");
    expect(interpolate("%{A-d}", { A: "" })).toBe("");
    expect(interpolate("$$HOME", {})).toBe("$HOME");
    expect(() => interpolate("%{A:?give A}", { A: "" })).toThrow("required variable A is missing a value: give A");
    expect(interpolate("%{A?give A}", { A: "" })).toBe("");
  });
});
