"""JSON Schema validation of real answers and frames against orderlog's own documents
(/openapi.json: JSON Schema 2020-12; /asyncapi.json: AsyncAPI's schema, a superset of draft 7),
and of /asyncapi.json against the AsyncAPI 3.0.0 document schema.

``asyncapi-3.0.0.schema.json.gz`` is ``schemas/3.0.0-without-$id.json`` of the npm package
``@asyncapi/specs`` 6.11.1 (Apache-2.0, its licence beside it), gzipped: the official schema of
an AsyncAPI 3.0.0 document.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft7Validator, Draft202012Validator
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7, DRAFT202012

ASYNCAPI_SCHEMA = Path(__file__).with_name("asyncapi-3.0.0.schema.json.gz")


def component(document: dict[str, Any], pointer: str, *, asyncapi: bool = False) -> Validator:
    """A validator for the schema at ``pointer`` (``/components/schemas/Order``) of
    ``document``, its ``$ref``s resolved within the document."""
    spec = DRAFT7 if asyncapi else DRAFT202012
    registry: Registry[Any] = Registry().with_resource(
        "urn:document", Resource.from_contents(document, default_specification=spec)
    )
    cls = Draft7Validator if asyncapi else Draft202012Validator
    return cls({"$ref": f"urn:document#{pointer}"}, registry=registry)  # type: ignore[no-any-return]


def asyncapi_document_schema() -> Validator:
    """A validator of whole AsyncAPI 3.0.0 documents."""
    schema = orjson.loads(gzip.decompress(ASYNCAPI_SCHEMA.read_bytes()))
    return Draft7Validator(schema)  # type: ignore[no-any-return]


def errors(validator: Validator, instance: Any) -> list[str]:
    """Every validation error, as 'path: message' lines (empty: valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator.iter_errors(instance)
    ]
