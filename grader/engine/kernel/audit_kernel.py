# ruff: noqa: F821  (plain, _Budget, Refused, _type_name, _message, _Silence come from harvest_kernel.py, sent first)
"""Audit re-runs, run INSIDE the student's kernel after the answers stage.

Sent as source text appended to harvest_kernel.py (whose ``plain``, ``_Budget``, ``Refused``,
``_type_name``, ``_message`` and ``_Silence`` it uses), so it must stay self-contained too. An
audit is a list of steps, each a call of a student name (``train``, ``MLP``) or of a dotted
library name (``torch.optim.SGD``) on plain values, drawn parameters, the student's variables or
objects an earlier step made. The steps of the one drawn configuration run once; the named
results (``train_losses``, ``val_error``) come back as plain values and are compared with the
reported answers outside the sandbox. The namespace's bindings are put back afterwards, so an
audit leaves no new or rebound names behind for the model stages that follow.
"""

import importlib
import json


class _AuditStop(Exception):
    """The audit cannot go on; ``status`` says why (missing | none | raised | refused)."""

    def __init__(self, status, message):
        Exception.__init__(self, message)
        self.status = status
        self.text = message


def _resolve_call(user_ns, name):
    """A student name (no dot) from the namespace; a dotted name from an importable module."""
    if "." not in name:
        if name not in user_ns:
            raise _AuditStop("missing", f"{name} is not defined")
        func = user_ns[name]
        if func is None:
            raise _AuditStop("none", f"{name} is still None")
        if not callable(func):
            raise _AuditStop("refused", f"{name} is a {_type_name(func)}, not a function or class")
        return func
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                target = getattr(target, attribute)
        except AttributeError:
            break
        return target
    raise _AuditStop("refused", f"{name} could not be imported in the kernel")


def _value(spec, user_ns, made, params):
    """One argument: a plain value, or {ref|param|variable|method+of} (only exact dicts count)."""
    if type(spec) is list:
        return [_value(v, user_ns, made, params) for v in spec]
    if type(spec) is not dict:
        return spec
    if "ref" in spec:
        return made[spec["ref"]]
    if "param" in spec:
        return params[spec["param"]]
    if "variable" in spec:
        name = spec["variable"]
        if name not in user_ns:
            raise _AuditStop("missing", f"{name} is not defined")
        return user_ns[name]
    if "method" in spec:
        owner = made[spec["of"]]
        try:
            with _Silence():
                return getattr(owner, spec["method"])()
        except Exception as exc:
            raise _AuditStop("raised", f"{spec['of']}.{spec['method']}() raised {_message(exc)}") from None
    return {k: _value(v, user_ns, made, params) for k, v in spec.items()}


def _unpack(value, names, call):
    """The step's result bound to its ``returns`` names: a tuple or list of exactly that length."""
    if len(names) == 1:
        return [value]
    if type(value) is not tuple and type(value) is not list:  # `is`: no metaclass __eq__ runs
        raise _AuditStop(
            "refused",
            f"{call} returned a {_type_name(value)}; expected {len(names)} values ({', '.join(names)})",
        )
    if len(value) != len(names):
        raise _AuditStop(
            "refused", f"{call} returned {len(value)} values; expected {len(names)} ({', '.join(names)})"
        )
    return list(value)


def _method(made, owner, name):
    """A method of an object an earlier step made (``{call: fit, of: est}``)."""
    target = made[owner]
    func = getattr(target, name, None)
    if func is None or not callable(func):
        raise _AuditStop("refused", f"{owner} (a {_type_name(target)}) has no method {name}()")
    return func


def _all_seeded(parameters):
    """scikit-learn's convention: every ``random_state`` set means the results are reproducible."""
    if type(parameters) is not dict:
        return False
    for key, value in parameters.items():
        if type(key) is str and (key == "random_state" or key.endswith("__random_state")) and value is None:
            return False
    return True


def _run_steps(user_ns, audit, made):
    params = audit.get("params") or {}
    for step in audit["steps"]:
        if step.get("of"):  # not "on": YAML 1.1 reads a bare on as True
            func = _method(made, step["of"], step["call"])
        else:
            func = _resolve_call(user_ns, step["call"])
        args = _value(step.get("args") or [], user_ns, made, params)
        kwargs = _value(step.get("kwargs") or {}, user_ns, made, params)
        try:
            with _Silence():
                result = func(*args, **kwargs)
        except RecursionError:
            raise _AuditStop("raised", f"{step['call']}(...) raised RecursionError") from None
        except (Exception, SystemExit) as exc:
            raise _AuditStop("raised", f"{step['call']}(...) raised {_message(exc)}") from None
        if step.get("seeded"):
            result = _all_seeded(result)
        if step.get("name"):
            made[step["name"]] = result
        if step.get("returns"):
            for name, value in zip(
                step["returns"], _unpack(result, step["returns"], step["call"]), strict=True
            ):
                made[name] = value


def _measures(made, names, max_items, max_bytes):
    out = {}
    for name in names:
        if name not in made:
            out[name] = {"status": "missing", "message": f"no step produced {name}"}
            continue
        try:
            converted = plain(made[name], _Budget(max_items))
            if len(json.dumps(converted, allow_nan=False)) > max_bytes:
                raise Refused("too large as JSON")
        except Refused as exc:
            out[name] = {"status": "refused", "message": f"{name}: {exc}"}
            continue
        except Exception as exc:
            out[name] = {"status": "refused", "message": f"{name}: conversion raised {_message(exc)}"}
            continue
        out[name] = {"status": "ok", "value": converted}
    return out


def run_audit(user_ns, audit, max_items, max_bytes):
    """One audit: ``{status: ok, measures}`` or ``{status: missing|none|raised|refused, message}``."""
    saved = dict(user_ns)
    made = {}
    try:
        _run_steps(user_ns, audit, made)
        return {"status": "ok", "measures": _measures(made, audit["measures"], max_items, max_bytes)}
    except _AuditStop as stop:
        return {"status": stop.status, "message": stop.text[:500]}
    finally:
        user_ns.clear()
        user_ns.update(saved)


def audits_main(user_ns, config):
    """Run every audit of the stage and write its JSON document to ``config['out']``."""
    max_items = int(config["max_items"])
    max_bytes = int(config.get("max_bytes") or 2_000_000)
    results = {audit["id"]: run_audit(user_ns, audit, max_items, max_bytes) for audit in config["audits"]}
    text = json.dumps({"audits": results}, allow_nan=False, separators=(",", ":"))
    with open(config["out"], "w", encoding="utf-8") as handle:
        handle.write(text)
