# ruff: noqa: F821  (plain, _Budget, Refused, _type_name, _message, _Silence come from harvest_kernel.py, sent first)
"""Harvest code for function items, run INSIDE the student's kernel after the answers stage.

Sent as source text appended to harvest_kernel.py (whose ``plain``, ``_Budget``, ``Refused``,
``_type_name``, ``_message`` and ``_Silence`` it uses), so it must stay self-contained too. For
each function item it calls the student's function on the instructor's arguments (fresh copies
per call) and records the plain return value or the raised exception's type and its bases. The
comparison with the master's outputs happens outside the sandbox.
"""

import json


def _exception_names(exc):
    names = []
    for klass in type.__dict__["__mro__"].__get__(type(exc), type):
        name = type.__dict__["__name__"].__get__(klass, type)
        if name in ("object", "BaseException"):
            break
        names.append(name)
    return names


def _call_one(func, call, max_items, max_bytes):
    fresh = json.loads(json.dumps(call))  # a new copy of the arguments for every call
    args, kwargs = fresh.get("args") or [], fresh.get("kwargs") or {}
    try:
        with _Silence():
            value = func(*args, **kwargs)
    except RecursionError:
        return {
            "status": "raised",
            "exception": "RecursionError",
            "bases": ["RecursionError", "RuntimeError", "Exception"],
        }
    except Exception as exc:
        return {
            "status": "raised",
            "exception": _type_name(exc),
            "bases": _exception_names(exc),
            "message": _message(exc)[:300],
        }
    try:
        converted = plain(value, _Budget(max_items))
        size = len(json.dumps(converted, allow_nan=False))
        if size > max_bytes:
            raise Refused(f"too large ({size} bytes as JSON)")
    except Refused as exc:
        return {"status": "refused", "message": str(exc)}
    except Exception as exc:
        return {"status": "refused", "message": "conversion raised " + _message(exc)}
    return {"status": "returned", "value": converted}


def harvest_functions(user_ns, config):
    results = {}
    max_items = int(config["max_items"])
    max_bytes = int(config.get("max_bytes") or 2_000_000)
    for spec in config["functions"]:
        name = spec["function"]
        if name not in user_ns:
            results[spec["item"]] = {"status": "missing", "message": f"{name} is not defined"}
            continue
        func = user_ns[name]
        if func is None:
            results[spec["item"]] = {"status": "none", "message": f"{name} is still None"}
            continue
        if not callable(func):
            results[spec["item"]] = {
                "status": "refused",
                "message": f"{name} is a {_type_name(func)}, not a function",
            }
            continue
        calls = [_call_one(func, call, max_items, max_bytes) for call in spec["calls"]]
        results[spec["item"]] = {"status": "ok", "calls": calls}
    return {"functions": results}


def run_tests(user_ns, config):
    """In-kernel test items: each test's code runs in the student's namespace, as a test cell of
    theirs would (a test may delete or replace a name to see whether the student's function
    uses it), and the namespace's bindings are put back afterwards, so tests neither see nor
    leave each other's variables. Passing means raising nothing. Such a test runs beside student
    code and can be defeated by it."""
    results = {}
    for spec in config.get("tests") or []:
        saved = dict(user_ns)
        try:
            code = compile(spec["code"], f"<test {spec['item']}>", "exec")
            with _Silence():
                exec(code, user_ns)
        except Exception as exc:
            results[spec["item"]] = {
                "status": "failed",
                "exception": _type_name(exc),
                "message": _message(exc)[:300],
            }
            continue
        finally:
            user_ns.clear()
            user_ns.update(saved)
        results[spec["item"]] = {"status": "passed"}
    return results


def calls_main(user_ns, config):
    """Run the function stage (and in-kernel tests) and write its JSON document to ``config['out']``."""
    document = harvest_functions(user_ns, config)
    document["tests"] = run_tests(user_ns, config)
    text = json.dumps(document, allow_nan=False, separators=(",", ":"))
    with open(config["out"], "w", encoding="utf-8") as handle:
        handle.write(text)
