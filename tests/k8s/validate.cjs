// SPDX-License-Identifier: Apache-2.0
// Strict offline validation of Kubernetes objects (tests/k8s/validate_manifests.sh).
//
//   node validate.cjs --modules DIR --crd CRD.yaml [--reject TEXT FILE]... [FILE]...
//
// Every object of every FILE (multi-document YAML) is checked against the
// Kubernetes API schema of its kind (kubernetes-models, generated from the
// API's OpenAPI), FunctionPolicy objects against the CRD's own schema. On
// top of what those validators do:
//   - unknown fields are errors (the validators ignore them; the API server
//     refuses them under kubectl's default --validate=strict). A field is
//     known when the schema checks it: replaced by a value no schema type
//     accepts, it must fail at its own path. Map entries (labels, data) are
//     checked by their map's value schema, so they count as known.
//   - a kind with no schema is an error, not a pass;
//   - the CRD schema must be structural (every field typed), and FunctionPolicy
//     objects are checked with additionalProperties: false on every typed
//     mapping, as the API server prunes or (strict) refuses unknown fields.
// Exit 0 when every object of every FILE passes and each --reject FILE is
// refused with a message containing its TEXT (the negative tests: one
// process for all, since loading the schemas is most of the time).
"use strict";
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

function parseArgs(argv) {
  const args = { files: [], rejects: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--modules") args.modules = argv[++i];
    else if (a === "--crd") args.crd = argv[++i];
    else if (a === "--reject") args.rejects.push([argv[++i], argv[++i]]);
    else args.files.push(a);
  }
  if (!args.modules || !args.crd || args.files.length + args.rejects.length === 0) {
    console.error("usage: validate.cjs --modules DIR --crd CRD.yaml [--reject TEXT FILE]... [FILE]...");
    process.exit(2);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const modules = path.resolve(args.modules, "node_modules");
const load = createRequire(path.join(modules, "..", "package.json"));
const yaml = load("js-yaml");
const Ajv = load("ajv");

// The generated validators, by file: the packages' "exports" hide _schemas.
function schemaOf(pkg, name) {
  return require(path.join(modules, pkg, "_schemas", name + ".js")).validate;
}
const KINDS = {
  "v1/Namespace": ["kubernetes-models", "IoK8sApiCoreV1Namespace"],
  "v1/ServiceAccount": ["kubernetes-models", "IoK8sApiCoreV1ServiceAccount"],
  "v1/ConfigMap": ["kubernetes-models", "IoK8sApiCoreV1ConfigMap"],
  "v1/Service": ["kubernetes-models", "IoK8sApiCoreV1Service"],
  "apps/v1/DaemonSet": ["kubernetes-models", "IoK8sApiAppsV1DaemonSet"],
  "apps/v1/Deployment": ["kubernetes-models", "IoK8sApiAppsV1Deployment"],
  "rbac.authorization.k8s.io/v1/ClusterRole": ["kubernetes-models", "IoK8sApiRbacV1ClusterRole"],
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ["kubernetes-models", "IoK8sApiRbacV1ClusterRoleBinding"],
  "apiextensions.k8s.io/v1/CustomResourceDefinition": [
    "kubernetes-models",
    "IoK8sApiextensionsApiserverPkgApisApiextensionsV1CustomResourceDefinition",
  ],
  "monitoring.coreos.com/v1/ServiceMonitor": [
    "@kubernetes-models/prometheus-operator",
    "MonitoringCoreosComV1ServiceMonitor",
  ],
};
const objectMeta = schemaOf("@kubernetes-models/apimachinery", "IoK8sApimachineryPkgApisMetaV1ObjectMeta");

const pointer = (parts) => parts.map((p) => "/" + String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
const isMap = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// Every key of every mapping in `value`, as a path of keys and indices.
function keyPaths(value, at = [], out = []) {
  if (Array.isArray(value)) value.forEach((item, i) => keyPaths(item, [...at, i], out));
  else if (isMap(value))
    for (const [k, v] of Object.entries(value)) {
      out.push([...at, k]);
      keyPaths(v, [...at, k], out);
    }
  return out;
}

// Keys the validator never looks at: with a Symbol in their place (no schema
// type takes one), no error appears at or below their path.
function unknownFields(validate, object, wanted = () => true) {
  const unknown = [];
  for (const keys of keyPaths(object).filter(wanted)) {
    const probe = structuredClone(object);
    let parent = probe;
    for (const k of keys.slice(0, -1)) parent = parent[k];
    parent[keys[keys.length - 1]] = Symbol("probe");
    const at = pointer(keys);
    validate(probe);
    const seen = (validate.errors || []).some((e) => e.instancePath === at || e.instancePath.startsWith(at + "/"));
    // A parent already unknown makes its children unknown too: name the top.
    if (!seen && !unknown.some((u) => at.startsWith(u + "/"))) unknown.push(at);
  }
  return unknown;
}

function schemaErrors(validate, object) {
  if (validate(object)) return [];
  return validate.errors.map((e) => `${e.instancePath || "/"}: ${e.message || e.keyword} ${JSON.stringify(e.params)}`);
}

function strictCheck(validate, object, wanted) {
  return [
    ...schemaErrors(validate, object),
    ...unknownFields(validate, object, wanted).map((at) => `${at}: unknown field`),
  ];
}

// A CRD: the generated validator checks the first level of
// openAPIV3Schema but not the nested schemas (JSONSchemaProps refers to
// itself), and it skips `description` and the x-kubernetes-* extensions. So
// each nested schema is checked on its own, one level at a time, and its keys
// against the fields the package's type declaration lists.
const jsonSchemaProps = schemaOf("kubernetes-models", "IoK8sApiextensionsApiserverPkgApisApiextensionsV1JSONSchemaProps");
const jsonSchemaPropsFields = (() => {
  const dts = fs.readFileSync(path.join(modules, "kubernetes-models/apiextensions.k8s.io/v1/JSONSchemaProps.d.ts"), "utf8");
  const body = dts.slice(dts.indexOf("export interface IJSONSchemaProps {"));
  const fields = new Set([...body.slice(0, body.indexOf("\n}")).matchAll(/^\s+"([^"]+)"\??:/gm)].map((m) => m[1]));
  if (!fields.has("type") || !fields.has("x-kubernetes-preserve-unknown-fields"))
    throw new Error("cannot read the fields of JSONSchemaProps from its .d.ts");
  return fields;
})();
const NESTED = ["properties", "items", "additionalProperties"];
function schemaNodes(node, at, out = []) {
  out.push([node, at]);
  for (const [k, v] of Object.entries(node.properties || {})) schemaNodes(v, `${at}/properties/${k}`, out);
  if (isMap(node.items)) schemaNodes(node.items, `${at}/items`, out);
  if (isMap(node.additionalProperties)) schemaNodes(node.additionalProperties, `${at}/additionalProperties`, out);
  return out;
}
function schemaNodeErrors(node) {
  const level = Object.fromEntries(Object.entries(node).map(([k, x]) => [k, NESTED.includes(k) && isMap(x) ? {} : x]));
  const errors = schemaErrors(jsonSchemaProps, level);
  for (const [k, v] of Object.entries(node)) {
    if (!jsonSchemaPropsFields.has(k)) errors.push(`/${k}: unknown field`);
    else if (k === "description" && typeof v !== "string") errors.push(`/${k}: must be a string`);
    else if (/^x-kubernetes-(preserve-unknown-fields|int-or-string|embedded-resource)$/.test(k) && typeof v !== "boolean")
      errors.push(`/${k}: must be a boolean`);
  }
  return errors;
}
function crdCheck(validate, crd) {
  const belowSchema = (keys) => {
    const i = keys.indexOf("openAPIV3Schema");
    return i < 0 || keys.length === i + 1;
  };
  const errors = strictCheck(validate, crd, belowSchema);
  (crd.spec.versions || []).forEach((version, v) => {
    const root = version.schema && version.schema.openAPIV3Schema;
    if (!root) return;
    for (const [node, at] of schemaNodes(root, `/spec/versions/${v}/schema/openAPIV3Schema`))
      errors.push(...schemaNodeErrors(node).map((e) => at + e));
  });
  return errors;
}

// --- FunctionPolicy: the CRD's schema -------------------------------------
function structuralProblems(schema, at, out) {
  const kids = [];
  for (const [k, v] of Object.entries(schema.properties || {})) kids.push([`${at}.${k}`, v]);
  if (schema.items) kids.push([`${at}[]`, schema.items]);
  if (isMap(schema.additionalProperties)) kids.push([`${at}{}`, schema.additionalProperties]);
  for (const [where, child] of kids) {
    if (!child.type && !child["x-kubernetes-preserve-unknown-fields"] && !child["x-kubernetes-int-or-string"])
      out.push(`${where}: no type (a structural schema types every field)`);
    structuralProblems(child, where, out);
  }
  return out;
}

// The API server's view: a typed mapping without preserve-unknown-fields
// takes only its declared properties.
function closed(schema) {
  const copy = { ...schema };
  if (copy.properties) {
    copy.properties = Object.fromEntries(Object.entries(copy.properties).map(([k, v]) => [k, closed(v)]));
    if (copy.type === "object" && !copy["x-kubernetes-preserve-unknown-fields"] && !("additionalProperties" in copy))
      copy.additionalProperties = false;
  }
  if (copy.items) copy.items = closed(copy.items);
  if (isMap(copy.additionalProperties)) copy.additionalProperties = closed(copy.additionalProperties);
  return copy;
}

function functionPolicyValidator(crdFile) {
  const crd = yaml.loadAll(fs.readFileSync(crdFile, "utf8")).find((d) => d && d.kind === "CustomResourceDefinition");
  const version = crd.spec.versions.find((v) => v.storage);
  const schema = version.schema.openAPIV3Schema;
  const problems = structuralProblems(schema, "FunctionPolicy", []);
  if (problems.length) throw new Error(problems.join("\n"));
  // strict: a keyword the API does not know (a typo like "minLenght") fails
  // to compile instead of passing everything.
  const ajv = new Ajv({ strict: true, allErrors: true });
  for (const k of ["x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string", "x-kubernetes-validations"])
    ajv.addKeyword(k);
  const validateSpec = ajv.compile(closed(schema));
  const apiVersion = `${crd.spec.group}/${version.name}`;
  return (object) => {
    const errors = [];
    if (object.apiVersion !== apiVersion) errors.push(`/apiVersion: must be ${apiVersion}`);
    if (!validateSpec(object))
      for (const e of validateSpec.errors)
        errors.push(`${e.instancePath || "/"}: ${e.message} ${JSON.stringify(e.params)}`);
    // metadata is Kubernetes' ObjectMeta, as for every object.
    errors.push(...strictCheck(objectMeta, object.metadata || {}).map((e) => `/metadata${e}`));
    return errors;
  };
}

// --- main -------------------------------------------------------------------
const checkFunctionPolicy = functionPolicyValidator(args.crd);

// Every problem of every object in `file`, one line each.
function problemsOf(file) {
  const out = [];
  const docs = yaml.loadAll(fs.readFileSync(file, "utf8")).filter((d) => d !== null && d !== undefined);
  if (docs.length === 0) out.push(`${file}: no objects`);
  for (const object of docs) {
    const name = `${file}: ${object.kind}/${(object.metadata && object.metadata.name) || "?"}`;
    let errors;
    if (object.kind === "FunctionPolicy") {
      errors = checkFunctionPolicy(object);
    } else {
      const kind = KINDS[`${object.apiVersion}/${object.kind}`];
      const check = object.kind === "CustomResourceDefinition" ? crdCheck : strictCheck;
      errors = kind
        ? check(schemaOf(...kind), object)
        : [`no schema for ${object.apiVersion} ${object.kind} (add it to KINDS in tests/k8s/validate.cjs)`];
    }
    out.push(...errors.map((e) => `${name}: ${e}`));
  }
  return out;
}

let bad = 0;
for (const file of args.files) {
  const problems = problemsOf(file);
  for (const p of problems) console.error(p);
  console.log(`${file}: ${problems.length} problems`);
  bad += problems.length ? 1 : 0;
}
for (const [text, file] of args.rejects) {
  const problems = problemsOf(file);
  const hit = problems.find((p) => p.includes(text));
  if (hit) {
    console.log(`refused as expected: ${hit}`);
  } else {
    console.error(`${file}: expected a refusal mentioning "${text}", got ${problems.length ? "" : "none"}`);
    for (const p of problems) console.error(`  ${p}`);
    bad++;
  }
}
process.exit(bad ? 1 : 0);
