"""Control operations: how a test drives the fake, declared once and served over HTTP.

An operation is a method of `FakeDiscord` marked `@operation`. That one declaration gives:
- in-process tests: the method itself (no serialisation);
- `ControlRoutes`: `POST /_fake/<name>` with JSON `{"args": [...], "kwargs": {...}}`, answering
  `{"result": ...}`, or `{"error": ...}` with 400 (bad input, timeout) or 404 (no such operation);
- `FakeDiscordRemote`: an async method of the same name and signature that makes that request.

How a result travels is read from the method's return annotation: a record (a class with `to_dict` and
`from_dict`, e.g. `Message`) or a list of records goes as `to_dict()` and comes back through `from_dict`;
other JSON (ids, dicts, None) goes as it is. Arguments are JSON too; any other iterable (a tuple of
permission names, a generator of role ids) travels as a list.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from aiohttp import web

from .rest import json_response

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__fake_control_operation__"
# What a failing operation answers with 400; anything else is a bug in the fake and answers 500.
_CALLER_ERRORS = (ValueError, KeyError, TimeoutError)


def operation(method: F) -> F:
    """Marks a `FakeDiscord` method as a control operation (see the module docstring)."""
    setattr(method, _MARK, True)
    return method


@dataclass(frozen=True)
class Codec:
    """How one kind of result crosses HTTP: `encode` on the fake's side, `decode` on the remote's."""

    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


PLAIN = Codec(_same, _same)
_JSON_SCALARS: tuple[type, ...] = (type(None), bool, int, float, str)


def _is_record(tp: object) -> bool:
    return isinstance(tp, type) and callable(getattr(tp, "to_dict", None)) and callable(getattr(tp, "from_dict", None))


def codec_for(tp: object) -> Codec:
    """The codec for results annotated `tp`; a TypeError for a type that has no JSON form."""
    if _is_record(tp):
        return Codec(lambda record: record.to_dict(), tp.from_dict)  # type: ignore[attr-defined]
    origin, args = get_origin(tp), get_args(tp)
    if origin is list and args and _is_record(args[0]):
        record_type: Any = args[0]
        return Codec(lambda rs: [r.to_dict() for r in rs], lambda ds: [record_type.from_dict(d) for d in ds])
    if tp in _JSON_SCALARS or origin in (dict, list):
        return PLAIN
    raise TypeError(f"a control operation cannot return {tp!r}: not JSON, not a record")


def to_json(value: Any) -> Any:
    """An argument as a JSON value: mappings stay mappings, other iterables become lists."""
    if isinstance(value, _JSON_SCALARS):
        return value
    if isinstance(value, Mapping):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [to_json(v) for v in value]
    raise TypeError(f"cannot send a {type(value).__name__} to the fake: not JSON")


@dataclass(frozen=True)
class Operation:
    """One control operation, as read off its method."""

    name: str
    method: Callable[..., Any]  # unbound: called with the fake as its first argument
    signature: inspect.Signature  # the method's, `self` included
    result: Codec

    @classmethod
    def of(cls, method: Callable[..., Any]) -> Operation:
        returns = get_type_hints(method).get("return", type(None))
        return cls(method.__name__, method, inspect.signature(method), codec_for(returns))

    @property
    def doc(self) -> str | None:
        return self.method.__doc__

    def request_body(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The JSON a remote call sends; a call that does not fit the signature fails here, as it would in-process."""
        bound = self.signature.bind(None, *args, **kwargs)  # None stands in for `self`
        return {"args": to_json(bound.args[1:]), "kwargs": to_json(bound.kwargs)}

    async def invoke(self, target: object, body: Mapping[str, Any]) -> Any:
        """Calls the operation on the fake with a request's arguments; the result as JSON."""
        result = self.method(target, *body.get("args", []), **body.get("kwargs", {}))
        if inspect.isawaitable(result):
            result = await result
        return self.result.encode(result)


def collect_operations(cls: type) -> dict[str, Operation]:
    """The operations declared on `cls` (its own methods marked `@operation`), by name."""
    return {name: Operation.of(fn) for name, fn in vars(cls).items() if getattr(fn, _MARK, False)}


class ControlRoutes:
    """Serves the operations of one fake under `/_fake/`."""

    def __init__(self, target: object, operations: Mapping[str, Operation]) -> None:
        self.target = target
        self.operations = operations

    def add_to(self, app: web.Application) -> None:
        if "info" in self.operations:
            # A bare GET for shell scripts that only wait for the fake to answer (tests/docker/run.sh).
            app.router.add_get("/_fake/info", self.info)
        app.router.add_post("/_fake/{op}", self.call)

    async def info(self, request: web.Request) -> web.Response:
        return json_response(await self.operations["info"].invoke(self.target, {}))

    async def call(self, request: web.Request) -> web.Response:
        name = request.match_info["op"]
        op = self.operations.get(name)
        if op is None:
            return json_response({"error": f"unknown operation {name}"}, 404)
        body = await request.json() if request.can_read_body else {}
        try:
            result = await op.invoke(self.target, body)
        except _CALLER_ERRORS as exc:
            return json_response({"error": f"{type(exc).__name__}: {exc}"}, 400)
        return json_response({"result": result})
