#!/usr/bin/env node
// What the chart must render for each case of deploy/helm-check.sh: the seed's values
// where the seed expects them (image loadpilot-coordinator:local, pull policy Never, the
// Service loadpilot-coordinator on 8080 and 9090, agent.replicas), the tokens wired from
// the Secret into NATS, the agents and the coordinator, probes, scrape annotations,
// resources, non-root pods, the helm-test pods, and NOTES.txt's port-forward command.
// One "ok - ..." / "FAIL - ..." line per expectation.
//
//   node deploy/chart-expect.mjs CASE RENDERED.yaml NOTES.txt
//   node deploy/chart-expect.mjs --nats-args RENDERED.yaml        the NATS container's args, NUL-separated
//   node deploy/chart-expect.mjs --test-command RENDERED.yaml POD  a test pod's command, NUL-separated

import fs from "node:fs";
import { idOf, loadManifests, podsOf } from "./validate-k8s.mjs";

let failures = 0;
function expect(what, cond, detail = "") {
  if (cond) console.log(`ok - ${what}`);
  else {
    failures++;
    console.log(`FAIL - ${what}${detail ? `: ${detail}` : ""}`);
  }
}
const show = (v) => JSON.stringify(v);

const find = (objects, kind, name) => objects.find((o) => o.kind === kind && o.metadata?.name === name);
const container = (workload, name) => (workload?.spec?.template?.spec ?? workload?.spec)?.containers?.find((c) => c.name === name);
const envOf = (c, name) => c?.env?.find((e) => e.name === name);
const fromSecret = (c, name, secret, key) => {
  const ref = envOf(c, name)?.valueFrom?.secretKeyRef;
  return ref?.name === secret && ref?.key === key;
};
const argAfter = (c, flag) => {
  const args = c?.args ?? [];
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const b64 = (s) => Buffer.from(s).toString("base64");

/** The cases of helm-check.sh, each with the values it set. */
const CASES = {
  default: { coordinator: false, replicas: 2 },
  seed: { coordinator: true, replicas: 2 },
  "seed-after-replicas-4": { coordinator: true, replicas: 4 },
  "tokens-given": { coordinator: true, replicas: 2, natsToken: "nats-secret-1", apiToken: "api-secret-2" },
  "existing-secret": { coordinator: true, replicas: 2, secret: "my-loadpilot-tokens" },
  "open-api": { coordinator: true, replicas: 2, openApi: true, serveAgents: 0 },
};

function expectCase(name, objects, notes) {
  const c = CASES[name];
  if (!c) throw new Error(`unknown case '${name}' (one of ${Object.keys(CASES).join(", ")})`);
  const tag = `[${name}]`;
  const secretName = c.secret ?? "loadpilot";

  // Secret: both tokens, generated (32 characters) or as given; none with existingSecret.
  const secret = find(objects, "Secret", "loadpilot");
  if (c.secret) {
    expect(`${tag} existingSecret: the chart renders no Secret of its own`, !objects.some((o) => o.kind === "Secret"));
  } else {
    expect(`${tag} Secret loadpilot holds nats-token and api-token`, secret?.data?.["nats-token"] && secret?.data?.["api-token"], show(secret?.data));
    if (c.natsToken) {
      expect(`${tag} nats.token lands in the Secret`, secret?.data?.["nats-token"] === b64(c.natsToken));
      expect(`${tag} coordinator.apiToken lands in the Secret`, secret?.data?.["api-token"] === b64(c.apiToken));
    } else {
      const decoded = Buffer.from(secret?.data?.["nats-token"] ?? "", "base64").toString();
      expect(`${tag} an empty nats.token is generated (32 random characters)`, /^[A-Za-z0-9]{32}$/.test(decoded), decoded);
    }
  }

  // NATS: Deployment + Service, the token from the Secret on its command line.
  const natsDeploy = find(objects, "Deployment", "loadpilot-nats");
  const nats = container(natsDeploy, "nats");
  expect(`${tag} NATS Deployment runs nats:2.9`, nats?.image === "nats:2.9", nats?.image);
  expect(`${tag} NATS requires the token: --auth $(NATS_TOKEN)`, argAfter(nats, "--auth") === "$(NATS_TOKEN)", show(nats?.args));
  expect(`${tag} NATS_TOKEN of NATS comes from Secret ${secretName}, key nats-token`, fromSecret(nats, "NATS_TOKEN", secretName, "nats-token"));
  const natsSvc = find(objects, "Service", "loadpilot-nats");
  expect(`${tag} Service loadpilot-nats on 4222`, natsSvc?.spec?.ports?.some((p) => p.port === 4222 && p.targetPort === "client"), show(natsSvc?.spec?.ports));

  // Agents: replicas, AGENT_ID = pod name, COORDINATOR = the NATS Service, the token.
  const agentDeploy = find(objects, "Deployment", "loadpilot-agent");
  const agent = container(agentDeploy, "agent");
  expect(`${tag} agent.replicas = ${c.replicas}`, agentDeploy?.spec?.replicas === c.replicas, show(agentDeploy?.spec?.replicas));
  expect(`${tag} each agent's AGENT_ID is its pod name (downward API)`, envOf(agent, "AGENT_ID")?.valueFrom?.fieldRef?.fieldPath === "metadata.name");
  expect(`${tag} agents' COORDINATOR is the NATS Service, loadpilot-nats:4222`, envOf(agent, "COORDINATOR")?.value === "loadpilot-nats:4222", show(envOf(agent, "COORDINATOR")));
  expect(`${tag} agents' NATS_TOKEN comes from Secret ${secretName}, key nats-token`, fromSecret(agent, "NATS_TOKEN", secretName, "nats-token"));

  // Every pod: non-root, resources set.
  for (const pod of podsOf(objects)) {
    expect(`${tag} ${idOf(pod.owner)} runs as non-root`, pod.spec.securityContext?.runAsNonRoot === true && pod.spec.securityContext?.runAsUser > 0);
    for (const k of pod.spec.containers ?? []) {
      expect(`${tag} ${idOf(pod.owner)} ${k.name}: resource requests and limits`, k.resources?.requests?.cpu && k.resources?.requests?.memory && k.resources?.limits?.cpu && k.resources?.limits?.memory, show(k.resources));
    }
  }

  const coordDeploy = find(objects, "Deployment", "loadpilot-coordinator");
  const coordSvc = find(objects, "Service", "loadpilot-coordinator");
  const tests = objects.filter((o) => o.kind === "Pod" && o.metadata?.annotations?.["helm.sh/hook"] === "test");
  if (!c.coordinator) {
    expect(`${tag} coordinator.enabled=false: no coordinator Deployment or Service`, !coordDeploy && !coordSvc);
    expect(`${tag} helm test: one pod, NATS /healthz`, tests.length === 1 && tests[0].metadata.name === "loadpilot-test-nats-healthz", show(tests.map(idOf)));
    expect(`${tag} NOTES.txt gives the seed's helm upgrade command`, notes.includes("--set coordinator.enabled=true") && notes.includes("--set coordinator.imagePullPolicy=Never"));
    return;
  }

  // Coordinator: the seed's image, pull policy, Service name and ports.
  const coord = container(coordDeploy, "coordinator");
  expect(`${tag} coordinator image is loadpilot-coordinator:local`, coord?.image === "loadpilot-coordinator:local", coord?.image);
  expect(`${tag} coordinator imagePullPolicy is Never`, coord?.imagePullPolicy === "Never", coord?.imagePullPolicy);
  expect(`${tag} one coordinator, replaced by Recreate`, coordDeploy?.spec?.replicas === 1 && coordDeploy?.spec?.strategy?.type === "Recreate");
  expect(`${tag} coordinator runs --serve --listen 0.0.0.0:8080 --metrics-listen 0.0.0.0:9090`,
    coord?.args?.[0] === "--serve" && argAfter(coord, "--listen") === "0.0.0.0:8080" && argAfter(coord, "--metrics-listen") === "0.0.0.0:9090", show(coord?.args));
  expect(`${tag} coordinator --nats-url nats://loadpilot-nats:4222 --nats-token $(NATS_TOKEN)`,
    argAfter(coord, "--nats-url") === "nats://loadpilot-nats:4222" && argAfter(coord, "--nats-token") === "$(NATS_TOKEN)", show(coord?.args));
  expect(`${tag} coordinator's NATS_TOKEN comes from Secret ${secretName}, key nats-token`, fromSecret(coord, "NATS_TOKEN", secretName, "nats-token"));
  if (c.openApi) {
    expect(`${tag} requireApiToken=false: no LOADPILOT_API_TOKEN`, !envOf(coord, "LOADPILOT_API_TOKEN"));
    expect(`${tag} requireApiToken=false: NOTES.txt warns that the API is open`, notes.includes("WARNING: coordinator.requireApiToken is false"));
  } else {
    expect(`${tag} coordinator's LOADPILOT_API_TOKEN comes from Secret ${secretName}, key api-token`, fromSecret(coord, "LOADPILOT_API_TOKEN", secretName, "api-token"));
    expect(`${tag} NOTES.txt says how to read the API token`, notes.includes(`kubectl get secret -n loadpilot ${secretName} -o jsonpath='{.data.api-token}' | base64 -d`));
  }
  const wantAgents = c.serveAgents ?? c.replicas;
  expect(`${tag} coordinator waits for ${wantAgents ? `--serve-agents ${wantAgents}` : "any agents (no --serve-agents)"}`,
    wantAgents ? argAfter(coord, "--serve-agents") === String(wantAgents) : !coord?.args?.includes("--serve-agents"), show(coord?.args));
  const ports = Object.fromEntries((coord?.ports ?? []).map((p) => [p.name, p.containerPort]));
  expect(`${tag} coordinator container ports api 8080, metrics 9090`, ports.api === 8080 && ports.metrics === 9090, show(coord?.ports));
  expect(`${tag} liveness GET /healthz, readiness GET /readyz on the api port`,
    coord?.livenessProbe?.httpGet?.path === "/healthz" && coord?.livenessProbe?.httpGet?.port === "api" &&
    coord?.readinessProbe?.httpGet?.path === "/readyz" && coord?.readinessProbe?.httpGet?.port === "api");
  const scrape = coordDeploy?.spec?.template?.metadata?.annotations ?? {};
  expect(`${tag} Prometheus scrape annotations on the coordinator pods (port 9090, /metrics)`,
    scrape["prometheus.io/scrape"] === "true" && scrape["prometheus.io/port"] === "9090" && scrape["prometheus.io/path"] === "/metrics", show(scrape));
  expect(`${tag} Service is named exactly loadpilot-coordinator`, !!coordSvc);
  const svcPorts = Object.fromEntries((coordSvc?.spec?.ports ?? []).map((p) => [p.name, [p.port, p.targetPort]]));
  expect(`${tag} Service ports 8080 -> api, 9090 -> metrics`, show(svcPorts) === show({ api: [8080, "api"], metrics: [9090, "metrics"] }), show(svcPorts));

  // helm test: NATS and coordinator /healthz, from the chart's own images.
  const coordTest = tests.find((t) => t.metadata.name === "loadpilot-test-coordinator-healthz");
  const cmd = coordTest?.spec?.containers?.[0]?.command ?? [];
  expect(`${tag} helm test pod calls loadpilot-coordinator:8080/healthz, wants ok`,
    cmd[0] === "bash" && show(cmd.slice(3)) === show(["http-check", "loadpilot-coordinator", "8080", "/healthz", "ok"]), show(cmd.slice(3)));
  expect(`${tag} helm test pod uses the coordinator image (already on the node: Never)`,
    coordTest?.spec?.containers?.[0]?.image === "loadpilot-coordinator:local" && coordTest?.spec?.containers?.[0]?.imagePullPolicy === "Never");
  expect(`${tag} helm test has the NATS pod too`, tests.some((t) => t.metadata.name === "loadpilot-test-nats-healthz"));

  // NOTES.txt: the seed's port-forward command, word for word.
  expect(`${tag} NOTES.txt: kubectl port-forward -n loadpilot svc/loadpilot-coordinator 8080:8080`,
    notes.split("\n").some((l) => l.trim() === "kubectl port-forward -n loadpilot svc/loadpilot-coordinator 8080:8080"), notes);
  expect(`${tag} NOTES.txt: loadpilot run ... --coordinator-url http://localhost:8080`, notes.includes("--coordinator-url http://localhost:8080"));
}

const [mode, file, extra] = process.argv.slice(2);
if (!mode || !file) {
  console.error("usage: node deploy/chart-expect.mjs CASE RENDERED.yaml NOTES.txt | --nats-args RENDERED.yaml | --test-command RENDERED.yaml POD");
  process.exit(2);
}
const objects = loadManifests(file);
if (mode === "--nats-args") {
  for (const a of container(find(objects, "Deployment", "loadpilot-nats"), "nats")?.args ?? []) process.stdout.write(`${a}\0`);
} else if (mode === "--test-command") {
  const pod = find(objects, "Pod", extra);
  if (!pod) throw new Error(`no test pod ${extra} in ${file}`);
  for (const a of pod.spec.containers[0].command) process.stdout.write(`${a}\0`);
} else {
  expectCase(mode, objects, extra ? fs.readFileSync(extra, "utf8") : "");
  process.exit(failures ? 1 : 0);
}
