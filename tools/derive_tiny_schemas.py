"""Derive JSON Schemas for the Tiny API v3 answers Kanglu uses from Tiny's official OpenAPI document.

A one-off: run it when Tiny publishes a new document, review the diff, commit the result.
The project never reads the OpenAPI document at run time or in tests (a fresh clone has none).

    python tools/derive_tiny_schemas.py /work/shared/tiny/openapi-v3.json \
        [-o tests/contract/tiny_v3_schemas.json]

Rules, each written down in the output's "$comment":
1. `$ref`s are resolved inline; `allOf` object parts are merged into one object.
2. `nullable: true` adds "null" to the type (and to an enum).
3. A `type: string` whose enum lists integers (the spec does this for invoice `situacao`,
   forma de envio `tipo`/`situacao`, `tipoEntrega`, `finalidade`) accepts those integers and
   their decimal strings, since the document contradicts itself and payloads carry either.
4. OpenAPI 3.0 ignores siblings of a `$ref`, so the document cannot mark an object property
   nullable; TINY_API.md records that these arrive as null in real payloads: NULLABLE_OBJECTS.
5. Invoice `numero` and `serie` arrive as strings or numbers (TINY_API.md): both accepted.
6. Objects are closed (`additionalProperties: false`): an answer may omit fields (the spec
   requires none) but never invent one. Listing envelopes require `itens` and `paginacao`.
7. Descriptions, examples, titles, formats and x- extensions are dropped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

TARGETS = {
    "listar_pedidos": ("/pedidos", "get", "200"),
    "obter_pedido": ("/pedidos/{idPedido}", "get", "200"),
    "listar_notas": ("/notas", "get", "200"),
    "obter_nota": ("/notas/{idNota}", "get", "200"),
    "listar_formas_envio": ("/formas-envio", "get", "200"),
    "obter_forma_envio": ("/formas-envio/{idFormaEnvio}", "get", "200"),
    "info": ("/info", "get", "200"),
    "erro": ("/pedidos", "get", "400"),
}
NULLABLE_OBJECTS = frozenset({
    "cliente", "transportador", "ecommerce", "endereco", "enderecoEntrega", "vendedor", "formaEnvio",
    "formaFrete", "intermediador", "gatewayLogistico",
})
STRING_OR_NUMBER = {
    "listar_notas": ("/properties/itens/items/properties/numero", "/properties/itens/items/properties/serie"),
    "obter_nota": ("/properties/numero", "/properties/serie"),
}
_DROPPED = {"description", "example", "examples", "title", "format", "nullable", "x-enumDescriptions", "parameter"}


class Deriver:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, ref: str) -> dict[str, Any]:
        node: Any = self.document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    def convert(self, schema: dict[str, Any], stack: tuple[str, ...] = ()) -> dict[str, Any]:
        if "$ref" in schema:
            ref = schema["$ref"]
            if ref in stack:
                raise ValueError(f"recursive schema {ref}: not expected in the responses Kanglu uses")
            return self.convert(self.resolve(ref), (*stack, ref))
        if "allOf" in schema:
            merged = self._merge([self.convert(part, stack) for part in schema["allOf"]])
            own = {k: v for k, v in schema.items() if k != "allOf"}
            if own.get("properties"):
                merged = self._merge([merged, self.convert({**own, "type": "object"}, stack)])
            if own.get("nullable"):
                merged["type"] = [merged["type"], "null"]
            return merged
        result: dict[str, Any] = {}
        kind = schema.get("type")
        if "properties" in schema or kind == "object":
            result["type"] = "object"
            result["properties"] = {
                name: self._property(name, sub, stack) for name, sub in schema.get("properties", {}).items()
            }
            result["additionalProperties"] = False
        elif kind == "array":
            result["type"] = "array"
            if "items" in schema:
                result["items"] = self.convert(schema["items"], stack)
        elif kind is not None:
            result["type"] = kind
        if "enum" in schema:
            enum = list(schema["enum"])
            if kind == "string" and all(isinstance(v, int) for v in enum):
                result["type"] = ["string", "integer"]
                enum = enum + [str(v) for v in enum]
            result["enum"] = enum
        for key, value in schema.items():
            if key not in _DROPPED and key not in ("type", "properties", "items", "enum", "allOf", "$ref") \
                    and not key.startswith("x-"):
                result[key] = value
        if schema.get("nullable"):
            result = _nullable(result)
        return result

    def _property(self, name: str, schema: dict[str, Any], stack: tuple[str, ...]) -> dict[str, Any]:
        converted = self.convert(schema, stack)
        if name in NULLABLE_OBJECTS and _types(converted) == ["object"]:
            converted = _nullable(converted)
        return converted

    @staticmethod
    def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for part in parts:
            if _types(part)[:1] != ["object"]:
                raise ValueError(f"allOf of a non-object: {part}")
            properties.update(part.get("properties", {}))
        return {"type": "object", "properties": properties, "additionalProperties": False}

    def response(self, path: str, method: str, status: str) -> dict[str, Any]:
        content = self.document["paths"][path][method]["responses"][status]["content"]["application/json"]
        return self.convert(content["schema"])


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    return kind if isinstance(kind, list) else [kind] if kind else []


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    result = dict(schema)
    types = _types(result)
    if types and "null" not in types:
        result["type"] = [*types, "null"]
    if "enum" in result and None not in result["enum"]:
        result["enum"] = [*result["enum"], None]
    return result


def _at(schema: dict[str, Any], pointer: str) -> dict[str, Any]:
    node = schema
    for part in pointer.strip("/").split("/"):
        node = node[part]
    return node


def derive(document: dict[str, Any]) -> dict[str, Any]:
    deriver = Deriver(document)
    schemas: dict[str, Any] = {}
    for name, (path, method, status) in TARGETS.items():
        schema = deriver.response(path, method, status)
        if path in ("/pedidos", "/notas", "/formas-envio") and status == "200":
            schema["required"] = ["itens", "paginacao"]
            schema["properties"]["paginacao"]["required"] = ["limit", "offset", "total"]
        if name == "erro":
            schema["required"] = ["mensagem"]
        for pointer in STRING_OR_NUMBER.get(name, ()):
            field = _at(schema, pointer)
            field["type"] = [t for t in ("string", "integer", "null") if t in _types(field) or t == "integer"]
        schemas[name] = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    info = document.get("info", {})
    return {
        "$comment": (
            f"Derived by tools/derive_tiny_schemas.py from '{info.get('title')}' version {info.get('version')}. "
            "Rules: $refs inlined and allOf merged; nullable adds null; a string type with an integer enum "
            "accepts both forms; object properties listed in NULLABLE_OBJECTS may be null (OpenAPI 3.0 cannot "
            "say so beside a $ref; TINY_API.md records it); invoice numero/serie may be numbers; objects are "
            "closed; listing envelopes require itens and paginacao. Do not edit by hand: rerun the script."
        ),
        "nullable_objects": sorted(NULLABLE_OBJECTS),
        "schemas": schemas,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("openapi", type=Path, help="Tiny's OpenAPI v3 document (JSON)")
    parser.add_argument("-o", "--output", type=Path,
                        default=Path(__file__).resolve().parent.parent / "tests/contract/tiny_v3_schemas.json")
    args = parser.parse_args(argv)
    result = derive(json.loads(args.openapi.read_text(encoding="utf-8")))
    args.output.write_text(json.dumps(result, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {len(result['schemas'])} schemas to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
