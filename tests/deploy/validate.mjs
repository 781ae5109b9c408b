// Offline validation of the lgsp Helm chart's values and rendered manifests.
//
//   node validate.mjs values SCHEMA FILE...          each file must satisfy SCHEMA (draft-07)
//   node validate.mjs values-invalid SCHEMA FILE...  each file must be refused by SCHEMA
//   node validate.mjs manifests MANIFESTS OUTDIR     validate every manifest; write each lgsp
//                                                    config of the ConfigMap to OUTDIR/config/
//                                                    and the gateway init script to OUTDIR
//   node validate.mjs doc-values VALUES DOC          DOC's values table has one row per value
//
// Manifests are parsed as YAML 1.1 (what the Kubernetes API machinery's YAML decoder reads:
// 0440 is octal, yes/no are booleans), then checked three ways:
//   1. kubernetes-models (the Kubernetes OpenAPI schema compiled to validators: types,
//      enums, required fields), @kubernetes-models/prometheus-operator for the CRDs;
//   2. unknown fields, which the OpenAPI schema does not refuse but `kubectl apply`
//      (strict field validation) does: every key is looked up in the typed models of
//      @kubernetes/client-node (generated from the same OpenAPI document);
//   3. chart rules: names are DNS labels, (kind, name) unique, every container of every pod
//      runs non-root with a read-only root file system, no capabilities, RuntimeDefault
//      seccomp; long-running containers have /readyz and /healthz probes on their admin
//      port; Services select pods that exist and target ports those pods declare; every
//      volume a container mounts is declared (a pod volume or a StatefulSet's claim
//      template, which must not carry version labels); ServiceMonitor endpoints name a port
//      that a selected Service has.
// Exit status 1 when anything fails, with every problem listed.
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import Ajv from "ajv";
import * as k8s from "@kubernetes/client-node";

const problems = [];
const fail = (where, what) => problems.push(`${where}: ${what}`);

function readData(file) {
  const text = fs.readFileSync(file, "utf8");
  return file.endsWith(".json") ? JSON.parse(text) : YAML.parse(text, { version: "1.1" });
}

function ajvFor(schemaFile) {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
  return ajv.compile(JSON.parse(fs.readFileSync(schemaFile, "utf8")));
}

// A file to be refused names, on a line "# expect: /json/pointer", where the schema must
// find the problem: a refusal for another reason does not count. FILE=SOURCE validates FILE
// (the coalesced values) and reads the expectation from SOURCE (the values file).
function checkValues(schemaFile, files, expectValid) {
  const validate = ajvFor(schemaFile);
  for (const arg of files) {
    const [f, source] = arg.includes("=") ? arg.split("=") : [arg, arg];
    const ok = validate(readData(f));
    const expect = /^# expect: (\S+)/m.exec(fs.readFileSync(source, "utf8"))?.[1];
    const what = f === source ? source : `${source} (coalesced over the chart's values.yaml)`;
    if (ok && expectValid) console.log(`  valid: ${what}`);
    else if (!ok && !expectValid) {
      const hit = validate.errors.find((e) => (e.instancePath || "/").startsWith(expect || "\0"));
      if (!expect) fail(source, "names no '# expect: /path' line");
      else if (!hit)
        fail(source, `refused, but not at ${expect}: ${validate.errors.map((e) => `${e.instancePath} ${e.message}`).join("; ")}`);
      else console.log(`  refused as expected: ${source}: ${hit.instancePath} ${hit.message}`);
    } else if (ok) fail(source, "accepted by the schema but it must be refused");
    else
      for (const e of validate.errors)
        fail(f, `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
  }
}

// --- 1. kubernetes-models --------------------------------------------------------------
const modelModules = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "autoscaling/v2": "kubernetes-models/autoscaling/v2",
  "policy/v1": "kubernetes-models/policy/v1",
  "networking.k8s.io/v1": "kubernetes-models/networking.k8s.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};

async function modelFor(apiVersion, kind) {
  const mod = modelModules[apiVersion];
  if (!mod) return null;
  const m = await import(`${mod}/${kind}`);
  return m[kind] || null;
}

// --- 2. unknown fields -----------------------------------------------------------------
// @kubernetes/client-node's class for an apiVersion/kind: V1Service, V1Deployment,
// V2HorizontalPodAutoscaler, V1PodDisruptionBudget...
function clientModel(apiVersion, kind) {
  const version = apiVersion.split("/").pop();
  return k8s[`${version[0].toUpperCase()}${version.slice(1)}${kind}`] || null;
}

const scalarTypes = new Set(["string", "number", "boolean", "Date", "any", "object", "IntOrString"]);

function unknownFields(value, type, where) {
  if (value === null || value === undefined) return;
  if (scalarTypes.has(type)) return;
  let m = /^Array<(.+)>$/.exec(type);
  if (m) {
    if (!Array.isArray(value)) return fail(where, `expected a list (${type})`);
    value.forEach((v, i) => unknownFields(v, m[1], `${where}[${i}]`));
    return;
  }
  m = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (m) {
    if (typeof value !== "object" || Array.isArray(value)) return fail(where, `expected a map (${type})`);
    for (const [k, v] of Object.entries(value)) unknownFields(v, m[1], `${where}.${k}`);
    return;
  }
  const cls = k8s[type];
  if (!cls || typeof cls.getAttributeTypeMap !== "function") return;
  if (typeof value !== "object" || Array.isArray(value)) return fail(where, `expected an object (${type})`);
  const attrs = new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    if (!attrs.has(k)) fail(`${where}.${k}`, `unknown field (not in ${type}; kubectl apply refuses it)`);
    else unknownFields(v, attrs.get(k), `${where}.${k}`);
  }
}

// --- 3. chart rules --------------------------------------------------------------------
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function podSpecOf(doc) {
  if (["Deployment", "StatefulSet", "DaemonSet"].includes(doc.kind)) return doc.spec?.template?.spec;
  return null;
}

// A StatefulSet's per-pod volume claims, mountable by name like the pod's volumes.
const claimTemplates = (doc) => (doc.kind === "StatefulSet" && doc.spec?.volumeClaimTemplates) || [];
// Labels that change with the chart's or the app's version: a claim template carrying one
// would change on every upgrade, and the API server refuses any change to claim templates.
const versionLabels = ["helm.sh/chart", "app.kubernetes.io/version"];

function checkPod(doc, where) {
  const spec = podSpecOf(doc);
  const psc = spec.securityContext || {};
  if (psc.runAsNonRoot !== true) fail(where, "pod securityContext.runAsNonRoot must be true");
  if (psc.seccompProfile?.type !== "RuntimeDefault") fail(where, "pod seccompProfile must be RuntimeDefault");
  const volumes = new Set((spec.volumes || []).map((v) => v.name));
  for (const t of claimTemplates(doc)) {
    const name = t.metadata?.name;
    if (volumes.has(name)) fail(where, `volume claim template ${name} has the name of a pod volume`);
    volumes.add(name);
    for (const l of versionLabels)
      if (t.metadata?.labels?.[l] !== undefined)
        fail(where, `volume claim template ${name} carries label ${l}: claim templates cannot change on upgrade`);
  }
  const all = [...(spec.initContainers || []).map((c) => [c, true]), ...spec.containers.map((c) => [c, false])];
  for (const [c, init] of all) {
    const cw = `${where} container ${c.name}`;
    const sc = c.securityContext || {};
    if (sc.readOnlyRootFilesystem !== true) fail(cw, "readOnlyRootFilesystem must be true");
    if (sc.allowPrivilegeEscalation !== false) fail(cw, "allowPrivilegeEscalation must be false");
    if (sc.runAsNonRoot !== true) fail(cw, "runAsNonRoot must be true");
    if (!(sc.capabilities?.drop || []).includes("ALL")) fail(cw, "capabilities must drop ALL");
    if ((sc.capabilities?.add || []).length) fail(cw, "no capability may be added");
    if (sc.seccompProfile?.type !== "RuntimeDefault") fail(cw, "seccompProfile must be RuntimeDefault");
    if (!c.resources?.limits?.memory) fail(cw, "a memory limit is required");
    for (const m of c.volumeMounts || [])
      if (!volumes.has(m.name)) fail(cw, `mounts volume ${m.name}, which the pod does not declare`);
    if (init) continue;
    const admin = (c.ports || []).find((p) => p.name === "admin");
    if (!admin) fail(cw, "no port named admin");
    const probe = (p, pathWanted) =>
      p && p.httpGet && p.httpGet.path === pathWanted && p.httpGet.port === "admin";
    if (!probe(c.readinessProbe, "/readyz")) fail(cw, "readinessProbe must GET /readyz on the admin port");
    if (!probe(c.livenessProbe, "/healthz")) fail(cw, "livenessProbe must GET /healthz on the admin port");
  }
  for (const v of [...(spec.volumes || []), ...claimTemplates(doc).map((t) => t.metadata)]) {
    const mounted = all.some(([c]) => (c.volumeMounts || []).some((m) => m.name === v.name));
    if (!mounted) fail(where, `volume ${v.name} is declared but mounted by no container`);
  }
}

const matches = (selector, labels) =>
  Object.entries(selector || {}).every(([k, v]) => labels?.[k] === v);

async function checkManifests(file, outDir) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"), { version: "1.1" });
  const objects = [];
  for (const d of docs) {
    if (d.errors.length) {
      fail(file, `YAML: ${d.errors.map((e) => e.message).join("; ")}`);
      continue;
    }
    const o = d.toJS();
    if (o === null || o === undefined) continue;
    objects.push(o);
  }
  const seen = new Set();
  const counts = {};
  for (const o of objects) {
    const where = `${o.kind}/${o.metadata?.name}`;
    if (!o.apiVersion || !o.kind || !o.metadata?.name) {
      fail(where, "apiVersion, kind and metadata.name are required");
      continue;
    }
    counts[o.kind] = (counts[o.kind] || 0) + 1;
    const key = `${o.apiVersion} ${o.kind} ${o.metadata.name}`;
    if (seen.has(key)) fail(where, "defined twice");
    seen.add(key);
    if (!dnsLabel.test(o.metadata.name) || o.metadata.name.length > 63)
      fail(where, "metadata.name must be a DNS label of at most 63 characters");
    for (const [k, v] of Object.entries(o.metadata.labels || {}))
      if (typeof v !== "string" || v.length > 63 || !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v))
        fail(where, `label ${k}: invalid value ${JSON.stringify(v)}`);

    const Model = await modelFor(o.apiVersion, o.kind);
    if (!Model) {
      fail(where, `no schema for ${o.apiVersion} ${o.kind}`);
    } else {
      try {
        new Model(o).validate();
      } catch (e) {
        fail(where, `Kubernetes schema: ${e.message}`);
      }
    }
    if (!o.apiVersion.includes(".coreos.com")) {
      const cls = clientModel(o.apiVersion, o.kind);
      if (!cls) fail(where, `no typed model for ${o.apiVersion} ${o.kind}`);
      else unknownFields(o, cls.name, where);
    }
    if (podSpecOf(o)) checkPod(o, where);
    if (o.kind === "ConfigMap" && JSON.stringify(o.data || {}).length > 1000000)
      fail(where, "over the 1 MiB object limit");
  }

  // Services select existing pods and target ports those pods declare.
  const workloads = objects.filter(podSpecOf);
  for (const s of objects.filter((o) => o.kind === "Service")) {
    const pods = workloads.filter((w) => matches(s.spec.selector, w.spec.template.metadata.labels));
    if (!pods.length) fail(`Service/${s.metadata.name}`, "selects no pod of the chart");
    for (const p of s.spec.ports) {
      const ok = pods.every((w) =>
        w.spec.template.spec.containers.some((c) =>
          (c.ports || []).some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort)));
      if (!ok) fail(`Service/${s.metadata.name}`, `targetPort ${p.targetPort} is not a port of the selected pods`);
    }
  }
  for (const w of workloads) {
    if (!matches(w.spec.selector.matchLabels, w.spec.template.metadata.labels))
      fail(`${w.kind}/${w.metadata.name}`, "selector does not match the pod template's labels");
    if (w.kind === "StatefulSet" && !objects.some((o) => o.kind === "Service" && o.metadata.name === w.spec.serviceName))
      fail(`${w.kind}/${w.metadata.name}`, `serviceName ${w.spec.serviceName} is not a Service of the chart`);
  }
  for (const h of objects.filter((o) => o.kind === "HorizontalPodAutoscaler")) {
    const t = h.spec.scaleTargetRef;
    if (!objects.some((o) => o.kind === t.kind && o.metadata.name === t.name))
      fail(`HorizontalPodAutoscaler/${h.metadata.name}`, `scales ${t.kind}/${t.name}, which the chart does not create`);
  }
  for (const p of objects.filter((o) => o.kind === "PodDisruptionBudget")) {
    if (!workloads.some((w) => matches(p.spec.selector.matchLabels, w.spec.template.metadata.labels)))
      fail(`PodDisruptionBudget/${p.metadata.name}`, "selects no pod of the chart");
  }
  for (const sm of objects.filter((o) => o.kind === "ServiceMonitor")) {
    const services = objects.filter((o) => o.kind === "Service" && matches(sm.spec.selector.matchLabels, o.metadata.labels));
    if (!services.length) fail(`ServiceMonitor/${sm.metadata.name}`, "selects no Service");
    for (const e of sm.spec.endpoints)
      for (const s of services)
        if (!s.spec.ports.some((p) => p.name === e.port))
          fail(`ServiceMonitor/${sm.metadata.name}`, `Service ${s.metadata.name} has no port ${e.port}`);
    console.log(`  ServiceMonitor scrapes: ${services.map((s) => s.metadata.name).join(", ")}`);
  }
  for (const cm of objects.filter((o) => o.kind === "ConfigMap" && o.metadata.labels?.grafana_dashboard === "1")) {
    for (const [k, v] of Object.entries(cm.data || {})) {
      try {
        JSON.parse(v);
      } catch (e) {
        fail(`ConfigMap/${cm.metadata.name}`, `${k} is not JSON: ${e.message}`);
      }
    }
  }

  // Hand the lgsp configs and the gateway's init script to the caller.
  fs.mkdirSync(path.join(outDir, "config"), { recursive: true });
  const config = objects.find((o) => o.kind === "ConfigMap" && o.metadata.labels?.["app.kubernetes.io/component"] === "config");
  if (!config) fail(file, "no lgsp config ConfigMap");
  else for (const [k, v] of Object.entries(config.data)) fs.writeFileSync(path.join(outDir, "config", k), v);
  const sts = objects.find((o) => o.kind === "StatefulSet");
  const init = sts?.spec.template.spec.initContainers?.find((c) => c.name === "instance");
  // A cluster's pods lease their reply partition: no init container numbers them.
  const clustered = /^cluster:/m.test(config?.data?.["gateway.yaml"] || "");
  if (clustered && init) fail(file, "a cluster's gateway pods still get the init container \"instance\"");
  else if (!clustered && !init) fail(file, "no gateway init container \"instance\"");
  else if (init) fs.writeFileSync(path.join(outDir, "instance.sh"), init.command[2]);
  // Every (workload, config file, secret file) so the caller can check the mounts match
  // what each config names.
  const mounts = [];
  for (const w of workloads) {
    const spec = w.spec.template.spec;
    const c = spec.containers[0];
    const cfgArg = c.args[c.args.indexOf("--config") + 1];
    const files = [];
    for (const m of c.volumeMounts || []) {
      const v = (spec.volumes || []).find((x) => x.name === m.name);
      if (claimTemplates(w).some((t) => t.metadata?.name === m.name)) files.push(`pvc:${m.mountPath}`);
      else if (v?.secret) {
        const items = v.secret.items ? v.secret.items.map((i) => i.path) : ["*"];
        for (const i of items) files.push(`${m.mountPath}/${i}`);
      } else if (v?.persistentVolumeClaim) files.push(`pvc:${m.mountPath}`);
      // A writable emptyDir: the pod's own, lost with it (the gateway's copy of the changes
      // topic, rebuilt from the topic).
      else if (v?.emptyDir && !m.readOnly) files.push(`emptydir:${m.mountPath}`);
      // Envelope keys: one Secret per domain projected into one directory.
      else if (v?.projected) {
        for (const s of v.projected.sources || [])
          if (s.secret) files.push(`sealkeys:${m.mountPath}:${s.secret.name}`);
      }
    }
    // Variables the pod takes from Secrets (an upstream's bearer token): the check sets them.
    const env = (c.env || []).filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.name);
    mounts.push({ workload: `${w.kind}/${w.metadata.name}`, command: [...c.command, ...c.args], config: cfgArg, files, env });
  }
  fs.writeFileSync(path.join(outDir, "mounts.json"), JSON.stringify(mounts, null, 2));
  console.log(`  ${objects.length} objects: ${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(", ")}`);
}

// Every value of values.yaml has a row in the docs' values table, and every row is a value.
// Maps of free keys (labels, resources, properties, security contexts...) are one row.
function checkDocValues(valuesFile, docFile) {
  const values = YAML.parse(fs.readFileSync(valuesFile, "utf8"));
  const opaque = /(^|\.)(resources|labels|annotations|podAnnotations|commonLabels|nodeSelector|affinity|properties|producerProperties|consumerProperties|podSecurityContext|containerSecurityContext)$/;
  const leaves = new Set();
  const walk = (o, p) => {
    for (const [k, v] of Object.entries(o)) {
      const key = (p ? `${p}.${k}` : k).replace(/^connectors\.[a-z][a-z0-9-]*\./, "connectors.<registry>.");
      if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length && !opaque.test(key)) walk(v, key);
      else leaves.add(key);
    }
  };
  walk(values, "");
  const doc = fs.readFileSync(docFile, "utf8");
  const section = doc.split("## Values reference")[1]?.split("\n## ")[0] || "";
  const rows = new Set([...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]));
  for (const l of leaves) if (!rows.has(l)) fail(docFile, `values table lacks ${l}`);
  for (const r of rows) if (!leaves.has(r)) fail(docFile, `values table names ${r}, which values.yaml does not have`);
  if (!problems.length) console.log(`  ${leaves.size} values, each with its row`);
}

// The chart knows the registries only through values.schema.json (connector blocks, partners'
// operations, field scopes and kinds of change) and the connector blocks of values.yaml;
// each list must be exactly the binary's registry table (`lgsp registries --json`), so a
// registry or command added to the table and not to the chart (or removed from one) fails
// here.
function checkRegistryTable(schemaFile, valuesFile, tableFile) {
  const schema = JSON.parse(fs.readFileSync(schemaFile, "utf8"));
  const values = YAML.parse(fs.readFileSync(valuesFile, "utf8"));
  const table = JSON.parse(fs.readFileSync(tableFile, "utf8"));
  const names = table.map((r) => r.name).sort();
  // The gateway's own operations (registries/table.cpp's pseudo-registries).
  const own = ["citizen.profile", "audit.access-log", "consent.grant", "consent.revoke", "consent.list"];
  const ops = (batch) => [...own, ...table.flatMap((r) => r.operations
    .filter((o) => batch || o !== "batch-verify").map((o) => `${r.name}.${o}`))].sort();
  const same = (what, got, want) => {
    const a = [...got].sort(), b = [...want].sort();
    if (JSON.stringify(a) !== JSON.stringify(b)) fail(schemaFile, `${what}: ${JSON.stringify(a)}, the registry table: ${JSON.stringify(b)}`);
  };
  const conn = schema.properties.connectors.properties;
  same("schema connectors", Object.keys(conn).filter((k) => conn[k].type === "object"), names);
  same("values.yaml connectors", Object.keys(values.connectors).filter((k) => typeof values.connectors[k] === "object"), names);
  // Each connector's backends are those its module offers (upstream only where it has one).
  for (const r of table) {
    const c = conn[r.name];
    if (!c) continue;
    same(`schema connectors.${r.name}.backend`, c.properties.backend.enum, r.backends);
    same(`schema connectors.${r.name} has an upstream block`, "upstream" in c.properties ? ["yes"] : [],
         r.backends.includes("upstream") ? ["yes"] : []);
    // An upstream block that maps commands (upstream.commands; civil-status's) maps the
    // module's, and only those.
    if (c.properties.upstream?.properties.commands)
      same(`schema connectors.${r.name}.upstream.commands`,
           c.properties.upstream.properties.commands?.propertyNames?.enum || [],
           (r.commands || []).map((cmd) => cmd.split("(")[0]));
  }
  // Kinds of change (partners' `changes` grants): every command of every registry, undos
  // included ("register-newborn(...) undo:void-newborn" names the command register-newborn).
  const kinds = table.flatMap((r) => (r.commands || []).map((c) => `${r.name}.${c.split("(")[0]}`));
  const enums = [];
  const kindEnums = [];
  const walk = (o) => {
    if (Array.isArray(o)) o.forEach(walk);
    else if (o && typeof o === "object") {
      if (Array.isArray(o.enum) && o.enum.includes("citizen.profile")) enums.push(o.enum);
      if (Array.isArray(o.enum) && o.enum.includes("population") && !o.enum.includes("citizen.profile")) enums.push(o.enum);
      if (Array.isArray(o.enum) && o.enum.some((k) => kinds.includes(k))) kindEnums.push(o.enum);
      Object.values(o).forEach(walk);
    }
  };
  walk(schema);
  if (enums.length < 3) fail(schemaFile, `expected the operations, operation_limits and fields enums, found ${enums.length}`);
  for (const e of enums) {
    if (e.includes("citizen.profile")) same("an operations enum", e, ops(e.some((o) => o.endsWith(".batch-verify"))));
    else same("a registry-name enum", e, names);
  }
  if (kindEnums.length !== 1) fail(schemaFile, `expected one enum of kinds of change (partners' changes), found ${kindEnums.length}`);
  for (const e of kindEnums) same("the kinds-of-change enum", e, kinds);
  if (!problems.length)
    console.log(`  ${names.length} registries (${names.join(", ")}), ${enums.length} enums, ${kinds.length} kinds of change`);
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "values") checkValues(args[0], args.slice(1), true);
else if (mode === "values-invalid") checkValues(args[0], args.slice(1), false);
else if (mode === "manifests") await checkManifests(args[0], args[1]);
else if (mode === "doc-values") checkDocValues(args[0], args[1]);
else if (mode === "registry-table") checkRegistryTable(args[0], args[1], args[2]);
else {
  console.error("usage: validate.mjs values|values-invalid SCHEMA FILE... | manifests MANIFESTS OUTDIR | doc-values VALUES DOC | registry-table SCHEMA VALUES TABLE_JSON");
  process.exit(2);
}
for (const p of problems) console.log(`  problem: ${p}`);
process.exit(problems.length ? 1 : 0);
