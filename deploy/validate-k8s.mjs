#!/usr/bin/env node
// Validates rendered Kubernetes manifests offline, the way an API server would take them:
//  - every object against the OpenAPI schema of its kind (kubernetes-models: types,
//    enums, required fields, formats);
//  - unknown fields, which kubectl's default --validate=strict makes the server reject
//    and which the schemas above let through (read from kubernetes-models' type
//    declarations);
//  - the wiring between objects that no schema sees: a Deployment's selector matches its
//    pod labels; a Service selects some pods and its target ports are ports they name;
//    every secretKeyRef names a Secret and key that exist; every $(VAR) in a command
//    line is an env var of that container (the kubelet leaves unknown ones as literal
//    text); env and port names unique; port names valid IANA service names.
// Prints one "ok - ..." or "FAIL - ..." line per object and per wiring check; exit 1 on
// any FAIL.
//
//   node deploy/validate-k8s.mjs [--external-secret NAME]... FILE.yaml...
//
// Modules come from $LOADPILOT_DEPLOY_TOOLS/node_modules (deploy/helm-check.sh installs
// them from deploy/tools/package-lock.json), else deploy/tools/node_modules.

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const toolsDir = process.env.LOADPILOT_DEPLOY_TOOLS || path.join(here, "tools");
const requireTool = createRequire(path.join(toolsDir, "package.json"));

/** Every object of a multi-document YAML file; duplicate keys and syntax errors throw. */
export function loadManifests(file) {
  const YAML = requireTool("yaml");
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"), { uniqueKeys: true });
  const objects = [];
  for (const doc of docs) {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

export const idOf = (o) => `${o.kind}/${o.metadata?.name ?? "?"}`;

/** Pod templates of workloads, and bare pods, as {owner, spec, labels}. */
export function podsOf(objects) {
  const pods = [];
  for (const o of objects) {
    if (o.kind === "Pod") pods.push({ owner: o, spec: o.spec ?? {}, labels: o.metadata?.labels ?? {} });
    else if (o.spec?.template?.spec) {
      pods.push({ owner: o, spec: o.spec.template.spec, labels: o.spec.template.metadata?.labels ?? {} });
    }
  }
  return pods;
}

const containersOf = (spec) => [...(spec.initContainers ?? []), ...(spec.containers ?? [])];

// --- schemas -----------------------------------------------------------------------------

function modelFor(apiVersion, kind) {
  const spec = `kubernetes-models/${apiVersion}/${kind}`;
  try {
    const file = requireTool.resolve(spec);
    return { Model: requireTool(spec)[kind], dts: file.replace(/\.js$/, ".d.ts") };
  } catch {
    return null;
  }
}

const interfaces = new Map(); // .d.ts file -> Map(property -> type) | null (not an interface)

// The generated declarations hold one `export interface` whose properties sit at four
// spaces: `"name"?: Type;`, a Type being Array<T>, { [key: string]: T; }, an imported
// interface, or a leaf (string, number, a union of literals, a type alias).
function propertiesOf(dtsFile) {
  if (interfaces.has(dtsFile)) return interfaces.get(dtsFile);
  let result = null;
  if (fs.existsSync(dtsFile)) {
    const text = fs.readFileSync(dtsFile, "utf8").replace(/\/\*\*[\s\S]*?\*\//g, "");
    const imports = new Map();
    for (const [, names, from] of text.matchAll(/import \{ ([^}]+) \} from "([^"]+)";/g)) {
      let target;
      if (from.startsWith(".")) target = path.resolve(path.dirname(dtsFile), `${from}.d.ts`);
      else {
        try {
          target = createRequire(dtsFile).resolve(from).replace(/\.js$/, ".d.ts");
        } catch {
          continue;
        }
      }
      for (const name of names.split(",")) imports.set(name.trim(), target);
    }
    const body = text.match(/export interface \w+(?: extends [\w, ]+)? \{\n([\s\S]*?)\n\}/);
    if (body) {
      result = new Map();
      const lines = body[1].split("\n");
      for (let i = 0; i < lines.length; i++) {
        const m = lines[i].match(/^ {4}"([^"]+)"\??: (.*)$/);
        if (!m) continue;
        let type = m[2];
        if (type.endsWith("{")) {
          while (++i < lines.length && !/^ {4}\};?$/.test(lines[i])) type += lines[i].trim();
          type += "}";
        }
        result.set(m[1], classify(type.replace(/;$/, ""), imports));
      }
    }
  }
  interfaces.set(dtsFile, result);
  return result;
}

function classify(type, imports) {
  let m;
  if ((m = type.match(/^Array<(.+)>$/))) return { array: classify(m[1], imports) };
  if ((m = type.match(/^\{\s*\[key: string\]: (.+?);?\s*\}$/))) return { map: classify(m[1], imports) };
  if (imports.has(type)) return { ref: imports.get(type) };
  return { leaf: type };
}

function unknownFields(value, type, where, problems) {
  if (value === null || typeof value !== "object") return;
  if (type.array) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, type.array, `${where}[${i}]`, problems));
  } else if (type.map) {
    for (const [k, v] of Object.entries(value)) unknownFields(v, type.map, `${where}.${k}`, problems);
  } else if (type.ref) {
    const props = propertiesOf(type.ref);
    if (!props || Array.isArray(value)) return;
    for (const [k, v] of Object.entries(value)) {
      if (!props.has(k)) problems.push(`unknown field ${where ? `${where}.` : ""}${k}`);
      else unknownFields(v, props.get(k), where ? `${where}.${k}` : k, problems);
    }
  }
}

export function schemaProblems(o) {
  if (!o.apiVersion || !o.kind) return ["no apiVersion or kind"];
  const model = modelFor(o.apiVersion, o.kind);
  if (!model) return [`no schema for ${o.apiVersion} ${o.kind} in kubernetes-models`];
  const problems = [];
  try {
    new model.Model(o).validate();
  } catch (e) {
    problems.push(...String(e.message).split("\n").filter(Boolean));
  }
  unknownFields(o, { ref: model.dts }, "", problems);
  return problems;
}

// --- wiring between objects -------------------------------------------------------------

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ianaSvcName = /^(?=.*[a-z])[a-z0-9]([a-z0-9]|-(?!-))*[a-z0-9]$|^[a-z]$/;
const subset = (small, big) => Object.entries(small ?? {}).every(([k, v]) => big?.[k] === v);

export function wiringProblems(objects, externalSecrets) {
  const problems = []; // [check, message]
  const seen = new Set();
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;
    if (seen.has(id)) problems.push(["unique names", `${idOf(o)} is rendered twice`]);
    seen.add(id);
    const name = o.metadata?.name ?? "";
    if (!dns1123Label.test(name) || name.length > 63) problems.push(["names", `${idOf(o)}: not a DNS-1123 label of at most 63 characters`]);
    for (const [k, v] of Object.entries(o.metadata?.labels ?? {})) {
      if (String(v).length > 63) problems.push(["labels", `${idOf(o)}: label ${k} is longer than 63 characters`]);
    }
    if (o.spec?.selector?.matchLabels && o.spec?.template && !subset(o.spec.selector.matchLabels, o.spec.template.metadata?.labels)) {
      problems.push(["selectors", `${idOf(o)}: spec.selector does not match the pod template's labels`]);
    }
  }
  const pods = podsOf(objects);
  const secrets = new Map(
    objects.filter((o) => o.kind === "Secret").map((o) => [o.metadata.name, new Set(Object.keys({ ...o.data, ...o.stringData }))]),
  );
  for (const pod of pods) {
    const where = idOf(pod.owner);
    for (const c of containersOf(pod.spec)) {
      const env = c.env ?? [];
      const names = env.map((e) => e.name);
      const dup = names.filter((n, i) => names.indexOf(n) !== i);
      if (dup.length) problems.push(["env", `${where} ${c.name}: env ${dup.join(", ")} set twice`]);
      for (const e of env) {
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) continue;
        if (externalSecrets.has(ref.name)) continue;
        if (!secrets.has(ref.name)) problems.push(["secret refs", `${where} ${c.name}: env ${e.name} reads Secret ${ref.name}, which is not rendered`]);
        else if (!secrets.get(ref.name).has(ref.key)) problems.push(["secret refs", `${where} ${c.name}: env ${e.name} reads key ${ref.key}, not in Secret ${ref.name}`]);
      }
      for (const arg of [...(c.command ?? []), ...(c.args ?? [])]) {
        for (const [, v] of String(arg).matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          if (!names.includes(v)) problems.push(["$(VAR) refs", `${where} ${c.name}: $(${v}) in its command line is no env var of the container`]);
        }
      }
      const ports = c.ports ?? [];
      const portNames = ports.map((p) => p.name).filter(Boolean);
      for (const n of portNames) {
        if (n.length > 15 || !ianaSvcName.test(n)) problems.push(["port names", `${where} ${c.name}: port name '${n}' is not an IANA service name (<= 15 characters)`]);
      }
      if (new Set(portNames).size !== portNames.length) problems.push(["port names", `${where} ${c.name}: a port name is used twice`]);
      for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
        const port = c[probe]?.httpGet?.port ?? c[probe]?.tcpSocket?.port;
        if (typeof port === "string" && !portNames.includes(port)) problems.push(["probe ports", `${where} ${c.name}: ${probe} uses port '${port}', which the container does not name`]);
      }
    }
  }
  for (const svc of objects.filter((o) => o.kind === "Service")) {
    const selected = pods.filter((p) => p.owner.kind !== "Pod" && subset(svc.spec?.selector, p.labels));
    if (!svc.spec?.selector || selected.length === 0) {
      problems.push(["service selectors", `${idOf(svc)}: selects no pods of this release`]);
      continue;
    }
    for (const sp of svc.spec.ports ?? []) {
      const target = sp.targetPort ?? sp.port;
      const found = selected.some((p) =>
        containersOf(p.spec).some((c) => (c.ports ?? []).some((cp) => (typeof target === "string" ? cp.name === target : cp.containerPort === target))));
      if (!found) problems.push(["service ports", `${idOf(svc)}: port ${sp.name ?? sp.port} targets ${target}, which no selected container exposes`]);
    }
  }
  return problems;
}

// --- main ---------------------------------------------------------------------------------

function main(argv) {
  const files = [];
  const externalSecrets = new Set();
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--external-secret") externalSecrets.add(argv[++i]);
    else files.push(argv[i]);
  }
  if (files.length === 0) {
    console.error("usage: node deploy/validate-k8s.mjs [--external-secret NAME]... FILE.yaml...");
    return 2;
  }
  let failed = 0;
  for (const file of files) {
    let objects;
    try {
      objects = loadManifests(file);
    } catch (e) {
      console.log(`FAIL - ${file}: ${e.message}`);
      failed++;
      continue;
    }
    for (const o of objects) {
      const problems = schemaProblems(o);
      if (problems.length) {
        failed++;
        console.log(`FAIL - schema: ${idOf(o)}`);
        for (const p of problems) console.log(`    ${p}`);
      } else {
        console.log(`ok - schema: ${idOf(o)} (${o.apiVersion})`);
      }
    }
    const wiring = wiringProblems(objects, externalSecrets);
    const checks = ["unique names", "names", "labels", "selectors", "env", "secret refs", "$(VAR) refs", "port names", "probe ports", "service selectors", "service ports"];
    for (const check of checks) {
      const mine = wiring.filter(([c]) => c === check);
      if (mine.length) {
        failed++;
        console.log(`FAIL - wiring: ${check}`);
        for (const [, m] of mine) console.log(`    ${m}`);
      } else {
        console.log(`ok - wiring: ${check}`);
      }
    }
  }
  return failed ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) process.exit(main(process.argv.slice(2)));
