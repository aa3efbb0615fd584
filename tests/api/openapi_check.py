# SPDX-License-Identifier: MIT
"""Checks real answers against an OpenAPI 3.1 document (docs/openapi.json,
docs/openapi-v1.json): its (path, method, status) must be documented, its
headers too, and its body must match the schema (jsonschema, Draft 2020-12:
the dialect of OpenAPI 3.1). A Document also counts what it has seen, for
the coverage test at the end of each test file."""

import json
import re

import jsonschema

from apiclient import REPO, describe, expect, raw_request
from linkdproc import db_url, linkd_env, run_linkd

HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
JSON_TYPES = ("application/json", "application/problem+json")


def deref(node, root=None, trail=()):
    """node (by default a whole document) with every {"$ref": "#/..."}
    replaced by what it names in root. The documents' schemas are not
    recursive, so this terminates."""
    root = node if root is None else root
    if isinstance(node, list):
        return [deref(v, root, trail) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/") and ref not in trail, f"bad or recursive $ref {ref}"
        assert set(node) == {"$ref"}, f"$ref {ref} has siblings: {sorted(node)}"
        target = root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(target, dict) and part in target, f"$ref {ref} names nothing"
            target = target[part]
        return deref(target, root, trail + (ref,))
    return {k: deref(v, root, trail) for k, v in node.items()}


def schema_problems(instance, schema):
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{e.message} (at {'/'.join(map(str, e.absolute_path)) or 'top'})"
            for e in validator.iter_errors(instance)]


def assert_valid(instance, schema, what):
    problems = schema_problems(instance, schema)
    assert not problems, f"{what} does not match the document: {problems[:3]}"


def header_value(text, schema):
    """A header's text as the JSON value its schema describes."""
    if schema.get("type") == "integer" or type(schema.get("const")) is int:
        assert re.fullmatch(r"-?\d+", text), f"{text!r} is not an integer"
        return int(text)
    return text


def describe_any(r):
    return describe(r) if hasattr(r, "request") else repr(r)


def body_value(r, ctype, schema):
    """The body as the value its schema describes: JSON parsed, text as a
    string, and binary media (schemas with contentMediaType) as its type."""
    if ctype in JSON_TYPES:
        return r.json()
    if "contentMediaType" in schema:
        assert r.content, "an empty image"
        return schema["contentMediaType"]
    return r.content.decode("utf-8")


class Document:
    """One OpenAPI document (a file under docs/) and what the tests saw of it."""

    def __init__(self, name):
        self.file = REPO / "docs" / name
        self.doc = json.loads(self.file.read_text(encoding="utf-8"))
        self.spec = deref(self.doc)
        # Every header the document describes on some answer: an answer that
        # carries one of them must list it.
        self.api_headers = {
            name.lower() for item in self.spec["paths"].values() for op in item.values()
            if isinstance(op, dict) and "responses" in op
            for answer in op["responses"].values() for name in answer.get("headers", {})}
        self.seen = set()  # (path, method, status) whose real answers were validated
        self.seen_405 = set()  # paths whose 405 answers were validated

    def check_answer(self, r, answer, method, what):
        """r (a requests or raw response) against one documented answer."""
        got = {k.lower(): v for k, v in r.headers.items()}
        documented = {k.lower(): v for k, v in answer.get("headers", {}).items()}
        for name, spec in documented.items():
            if name not in got:
                assert not spec.get("required"), f"{what}: no {name} header: {describe_any(r)}"
                continue
            assert_valid(header_value(got[name], spec["schema"]), spec["schema"],
                         f"{what}: header {name}: {got[name]!r}")
        for name in got:
            assert name not in self.api_headers or name in documented, \
                f"{what}: carries {name}, which the document does not list for it"
        content = answer.get("content")
        if method == "head" or not content:
            assert r.content == b"", \
                f"{what}: a body where the document has none: {describe_any(r)}"
            return
        ctype = got.get("content-type", "").split(";")[0].strip().lower()
        assert ctype in content, f"{what}: Content-Type {ctype!r}, documented {sorted(content)}"
        schema = content[ctype]["schema"]
        body = body_value(r, ctype, schema)
        assert_valid(body, schema, f"{what}: body {body!r:.300}")

    def conforms(self, r, path, method=None, spec=None):
        """Asserts that the answer r to `method path` (a documented template)
        is documented there; returns r. Counts it as seen unless spec is
        given."""
        method = (method or r.request.method).lower()
        op = (spec or self.spec)["paths"][path].get(method)
        assert op, f"{method.upper()} {path} is not in the document"
        status = str(r.status_code)
        assert status in op["responses"], (f"{method.upper()} {path} answered {status}; the "
                                           f"document lists {sorted(op['responses'])}: "
                                           f"{describe_any(r)}")
        self.check_answer(r, op["responses"][status], method,
                          f"{method.upper()} {path} -> {status}")
        if spec is None:
            self.seen.add((path, method, status))
        return r

    def hit(self, c, method, template, status, path=None, **kw):
        """Sends method to path (default: the template itself), expects
        status, checks the answer against the document; a GET is repeated as
        HEAD, which must answer the same status without a body."""
        r = c.request(method, path or template, **kw)
        expect(r, status)
        self.conforms(r, template)
        if method == "GET":
            h = c.request("HEAD", path or template, **kw)
            assert h.status_code == status, f"HEAD differs from GET: {describe(h)}"
            self.conforms(h, template)
        return r

    def body_schema(self, template, method, ctype="application/json"):
        return self.spec["paths"][template][method.lower()]["requestBody"]["content"][ctype][
            "schema"]

    def send_json(self, c, method, template, status, body, path=None, **kw):
        """hit() with a JSON body, which the documented request schema must
        accept when the server does (2xx) and refuse when the server answers
        422."""
        problems = schema_problems(body, self.body_schema(template, method))
        if status < 300:
            assert not problems, \
                f"the document refuses a body the server takes: {body}: {problems}"
        elif status == 422:
            assert problems, f"the document accepts a body the server refuses (422): {body}"
        return self.hit(c, method, template, status, path=path, json=body, **kw)

    def send_raw(self, c, method, template, status, body, ctype="application/json", path=None,
                 headers=None):
        """For bodies the server may answer before reading to the end (413)."""
        r = raw_request(c.base_url, method, path or template,
                        {"Content-Type": ctype, **(headers or {})}, body)
        assert r.status_code == status, f"expected {status}: {r!r:.400}"
        return self.conforms(r, template, method)

    def operations(self, *access):
        """(path, METHOD) of every documented operation of these access classes."""
        return [(path, method.upper()) for path, item in self.doc["paths"].items()
                for method, op in item.items() if op["x-linkd-access"] in access]

    def documented_triples(self):
        return {(path, method, status) for path, item in self.doc["paths"].items()
                for method, op in item.items() for status in op["responses"]}


def check_well_formed(doc, spec):
    """The document is OpenAPI 3.1 as these tests read it: schemas valid
    under Draft 2020-12 (examples included), path parameters declared,
    every answer described, operationIds unique."""
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    meta = jsonschema.Draft202012Validator
    for name, schema in doc["components"]["schemas"].items():
        meta.check_schema(schema)
        for example in schema.get("examples", []):
            assert_valid(example, spec["components"]["schemas"][name], f"example of {name}")
    op_ids = []
    for path, item in spec["paths"].items():
        assert path.startswith("/"), path
        names = re.findall(r"\{(\w+)\}", path)
        for method, op in item.items():
            assert method in HTTP_METHODS, f"{path}: {method}"
            op_ids.append(op["operationId"])
            params = op.get("parameters", [])
            in_path = [p["name"] for p in params if p["in"] == "path"]
            assert in_path == names, f"{method} {path}: path parameters {in_path}"
            for p in params:
                meta.check_schema(p["schema"])
                assert p["in"] != "path" or p["required"] is True
            if "requestBody" in op:
                for media in op["requestBody"]["content"].values():
                    meta.check_schema(media["schema"])
            assert op["responses"], f"{method} {path} has no responses"
            for status, answer in op["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status), f"{method} {path}: {status}"
                assert answer["description"], f"{method} {path} {status}"
                for h in answer.get("headers", {}).values():
                    meta.check_schema(h["schema"])
                for media in answer.get("content", {}).values():
                    meta.check_schema(media["schema"])
    assert len(op_ids) == len(set(op_ids)), "operationIds repeat"
    assert set(doc["components"]["securitySchemes"]) == {k for req in doc["security"] for k in req}


def route_table():
    """{template: (access class, methods)} read from the C sources."""
    route_h = (REPO / "include" / "linkd" / "route.h").read_text()
    routes_c = (REPO / "src" / "router" / "routes.c").read_text()
    templates = dict(re.findall(r'X\((\w+),\s*"([^"]+)"\)', route_h))
    entries = re.findall(r'\{LNK_ROUTE_(\w+),\s*LNK_ACCESS_(\w+),\s*\{((?:\s*"[^"]*",?)*)\s*\},'
                         r'\s*\{([^}]*)\}\}', routes_c)
    assert set(templates) - {e[0] for e in entries} == {"UNMATCHED"}, \
        "the route table's entries were not all read (has its layout changed?)"
    table = {}
    for name, access, segs, handlers in entries:
        tmpl = templates[name]
        segs = re.findall(r'"([^"]*)"', segs)
        assert re.sub(r"\{\w+\}", "{}", tmpl) == "/" + "/".join(segs), (tmpl, segs)
        methods = {m.lower() for m in re.findall(r"\[LNK_METHOD_(\w+)\]", handlers)}
        assert methods, f"no methods read for {name}"
        if "get" in methods:
            methods.add("head")  # the router answers HEAD with the GET handler
        table[tmpl] = (access.lower(), methods)
    return table


def is_v1(path):
    return path == "/api/v1" or path.startswith("/api/v1/")


def create_key(proc, name, admin=False, user=None, scopes=None):
    """A new API key of the server proc (`linkd keys create`)."""
    args = ["keys", "create", "--name", name] + (["--admin"] if admin else ["--user", str(user)])
    if scopes:
        args += ["--scopes", scopes]
    r = run_linkd(args, env=linkd_env(DATABASE_URL=db_url(proc.db_path)))
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()[0]
