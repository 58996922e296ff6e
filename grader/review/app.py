"""The marking web app (Starlette): pages for markers, a small JSON API for their saves.

Pages: ``/`` (progress, marking queues, students, publish), ``/mark/<item>/<student>`` (one answer
of a queue), ``/student/<id>`` (a whole submission, overrides), ``/regrades``, ``/audit``. Writes
go through ``/api/*`` as JSON from the app's own script; ``grader.review.security.Guard`` checks
the token and the origin of every request before any of this runs.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from grader.marks.overlay import evidence_of, is_manual
from grader.marks.store import ConflictError, StoreError
from grader.report.env import html_env
from grader.review.markdown import render_markdown
from grader.review.model import ReviewData, ReviewError, find_item
from grader.review.publisher import Publisher
from grader.review.security import Guard, csrf_for
from grader.review.views import (
    answer_note,
    decision_json,
    item_row,
    mark_url,
    next_unmarked,
    points_text,
    student_url,
)

if TYPE_CHECKING:
    from grader.assignment import Assignment

MARKER_COOKIE = "grader_marker"
STATIC = Path(__file__).resolve().parents[1] / "templates" / "review"
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,80}")


def _render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(html_env().get_template(f"review/{name}").render(**context), status_code=status)


class ReviewApp:
    """Routes bound to one graded folder, one token and (optionally) one fixed marker name."""

    def __init__(
        self,
        out_dir: Path,
        *,
        token: str,
        assignment: Assignment | None = None,
        marker: str | None = None,
        publish_on_exit: bool = True,
    ) -> None:
        self.data = ReviewData(out_dir, assignment=assignment)
        self.csrf = csrf_for(token)
        self.fixed_marker = marker
        self.publisher = Publisher(self.data.out_dir, render=self._publish, unpublished=self.data.unpublished)
        self.publish_on_exit = publish_on_exit
        self.script = (STATIC / "review.js").read_bytes()

    def _publish(self) -> None:
        from grader.publish import publish  # lazy: start-up of the app (plots, exports)
        from grader.results import load_results  # lazy: start-up of the app

        results = load_results(self.data.out_dir)
        if results:
            publish(results, self.data.out_dir, assignment=self.data.assignment)

    # ------------------------------------------------------------------ helpers

    def marker(self, request: Request) -> str:
        if self.fixed_marker:
            return self.fixed_marker
        return unquote(request.cookies.get(MARKER_COOKIE, "")).strip()

    def common(self, request: Request, title: str) -> dict[str, Any]:
        slots = self.data.slots()
        state = self.publisher.state()
        assignment = self.data.assignment
        return {
            "title": title,
            "course": str(assignment.rubric.get("title") or assignment.name) if assignment else "",
            "csrf": self.csrf,
            "marker": self.marker(request),
            "marker_fixed": bool(self.fixed_marker),
            "marked": sum(s.marked for s in slots),
            "total": len(slots),
            "publish": state,
            "open_regrades": len(self.data.store.regrades(status="open")),
        }

    def _not_found(self, request: Request, what: str) -> HTMLResponse:
        return _render("missing.html.j2", 404, page=self.common(request, "Not found"), what=what)

    # ------------------------------------------------------------------ pages

    async def home(self, request: Request) -> Response:
        return await run_in_threadpool(self._home, request)

    def _home(self, request: Request) -> Response:
        docs = self.data.documents()
        waiting: dict[str, int] = {}
        for slot in self.data.slots():
            waiting[slot.student] = waiting.get(slot.student, 0) + (not slot.marked)
        students = [
            {
                "id": sid,
                "url": student_url(sid),
                "status": str(doc.get("status") or ""),
                "pending": waiting.get(sid, 0),
            }
            for sid, doc in sorted(docs.items())
        ]
        queues = [{"q": q, "url": f"/mark/{quote(q.item, safe='')}"} for q in self.data.queues()]
        return _render("home.html.j2", page=self.common(request, "Marking"), queues=queues, students=students)

    async def first_in_queue(self, request: Request) -> Response:
        item = request.path_params["item"]
        slots = await run_in_threadpool(self.data.slots, item)
        if not slots:
            return self._not_found(request, f"no answers to mark for item {item!r}")
        target = next((s for s in slots if not s.marked), slots[0])
        return RedirectResponse(mark_url(item, target.student), status_code=303)

    async def mark_page(self, request: Request) -> Response:
        return await run_in_threadpool(self._mark_page, request)

    def _mark_page(self, request: Request) -> Response:
        item_id, student = request.path_params["item"], request.path_params["student"]
        slots = self.data.slots(item_id)
        position = next((n for n, s in enumerate(slots) if s.student == student), None)
        doc = self.data.documents().get(student)
        item = find_item(doc, item_id)
        if position is None or doc is None or item is None:
            return self._not_found(request, f"no answer of {student!r} to item {item_id!r} waits for a mark")
        decision = self.data.store.decision(student, item_id)
        answer = evidence_of(item).get("answer")
        notebook = self.data.notebook(student)
        part = item.get("part") if isinstance(item.get("part"), str) else None
        slot = slots[position]
        context = {
            "page": self.common(request, f"{item.get('title') or item_id} · {student}"),
            "item": {
                "id": item_id,
                "title": str(item.get("title") or item_id),
                "part": part or "",
                "max_points": item.get("max_points"),
                "prompt": self.data.prompt(item_id),
                "guidance": self.data.guidance(item_id),
            },
            "student": student,
            "answer_html": render_markdown(answer),
            "answer_missing": not (isinstance(answer, str) and answer.strip()),
            "answer_note": answer_note(evidence_of(item)),
            "figures": notebook.figures(part),
            "decision": decision,
            "version": decision.version if decision else 0,
            "points": points_text(slot, decision),
            "comment": decision.comment if decision and decision.points is not None else "",
            "position": position + 1,
            "count": len(slots),
            "queue_marked": sum(s.marked for s in slots),
            "slots": [
                {"s": s, "url": mark_url(item_id, s.student), "current": s.student == student} for s in slots
            ],
            "prev_url": mark_url(item_id, slots[position - 1].student) if position > 0 else "",
            "next_url": mark_url(item_id, slots[position + 1].student) if position + 1 < len(slots) else "",
            "student_url": student_url(student),
            "regrades": [r for r in self.data.store.regrades() if r.student == student and r.item == item_id],
            "audit": [a for a in self.data.store.audit(student=student) if a.item == item_id],
        }
        return _render("mark.html.j2", **context)

    async def student_page(self, request: Request) -> Response:
        return await run_in_threadpool(self._student_page, request)

    def _student_page(self, request: Request) -> Response:
        student = request.path_params["student"]
        doc = self.data.document(student)
        if doc is None:
            return self._not_found(request, f"no result for student {student!r}")
        decisions = {k[1]: v for k, v in self.data.store.decisions().items() if k[0] == student}
        items = [
            item_row(i, decisions.get(str(i.get("id"))), student)
            for i in doc.get("items") or []
            if isinstance(i, dict)
        ]
        run = self.data.run_record(student) or {}
        context = {
            "page": self.common(request, f"Submission {student}"),
            "doc": doc,
            "student": student,
            "items": items,
            "cells": (run.get("cells") if isinstance(run.get("cells"), list) else doc.get("cells")) or [],
            "limits": (run.get("limits_fired") if "limits_fired" in run else doc.get("limits_fired")) or [],
            "telemetry": (
                run.get("telemetry") if isinstance(run.get("telemetry"), dict) else doc.get("telemetry")
            )
            or {},
            "run_status": str(run.get("status") or doc.get("status") or ""),
            "run_message": str(run.get("message") or doc.get("message") or ""),
            "notebook": self.data.notebook(student),
            "audit": self.data.store.audit(student=student),
            "regrades": [r for r in self.data.store.regrades() if r.student == student],
        }
        return _render("student.html.j2", **context)

    async def audit_page(self, request: Request) -> Response:
        entries = await run_in_threadpool(self.data.store.audit, limit=5000)
        page = await run_in_threadpool(self.common, request, "Audit log")
        return _render("audit.html.j2", page=page, audit=entries)

    async def regrades_page(self, request: Request) -> Response:
        return await run_in_threadpool(self._regrades_page, request)

    def _regrades_page(self, request: Request) -> Response:
        docs = self.data.documents()
        rows = []
        for request_ in sorted(self.data.store.regrades(), key=lambda r: (r.status != "open", r.id)):
            item = find_item(docs.get(request_.student), request_.item) or {}
            manual = bool(item) and is_manual(item)
            rows.append(
                {
                    "r": request_,
                    "title": str(item.get("title") or request_.item),
                    "url": mark_url(request_.item, request_.student)
                    if manual
                    else f"{student_url(request_.student)}#item-{request_.item}",
                }
            )
        return _render("regrades.html.j2", page=self.common(request, "Regrade requests"), rows=rows)

    async def script_file(self, request: Request) -> Response:
        return Response(self.script, media_type="text/javascript; charset=utf-8")

    # ------------------------------------------------------------------ API

    async def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise ReviewError("the request body is not JSON") from None
        if not isinstance(body, dict):
            raise ReviewError("the request body must be a JSON object")
        return body

    async def api_state(self, request: Request) -> Response:
        state = await run_in_threadpool(self.publisher.state)
        slots = await run_in_threadpool(self.data.slots)
        return JSONResponse(
            {
                "publishing": state.running,
                "published_at": state.published_at,
                "error": state.error,
                "unpublished": state.unpublished,
                "marked": sum(s.marked for s in slots),
                "total": len(slots),
            }
        )

    async def api_marks(self, request: Request) -> Response:
        decisions = await run_in_threadpool(self.data.store.decisions)
        return JSONResponse({"decisions": [decision_json(d) for d in decisions.values()]})

    async def api_marker(self, request: Request) -> Response:
        if self.fixed_marker:
            return _error(f"this server records every save as {self.fixed_marker} (--marker)", 400)
        try:
            name = str((await self._body(request)).get("name") or "").strip()
        except ReviewError as exc:
            return _error(str(exc), 400)
        if not _NAME.fullmatch(name):
            return _error("enter a name of 1 to 80 characters", 400)
        response = JSONResponse({"ok": True, "marker": name})
        response.set_cookie(MARKER_COOKIE, quote(name, safe=""), httponly=True, samesite="strict", path="/")
        return response

    async def api_mark(self, request: Request) -> Response:
        return await self._save(request, "manual")

    async def api_override(self, request: Request) -> Response:
        return await self._save(request, "override")

    async def _save(self, request: Request, kind: str) -> Response:
        marker = self.marker(request)
        if not marker:
            return _error("enter your name first (top of the page): every save records who made it", 400)
        try:
            body = await self._body(request)
            student, item = str(body.get("student") or ""), str(body.get("item") or "")
            if kind == "manual":
                decision = await run_in_threadpool(
                    lambda: self.data.save_mark(
                        student,
                        item,
                        points=body.get("points"),
                        comment=body.get("comment"),
                        seen_version=body.get("version"),
                        marker=marker,
                    )
                )
            else:
                decision = await run_in_threadpool(
                    lambda: self.data.save_override(
                        student,
                        item,
                        points=body.get("points"),
                        reason=body.get("reason"),
                        seen_version=body.get("version"),
                        marker=marker,
                    )
                )
        except ConflictError as exc:
            current = decision_json(exc.current) if exc.current else None
            return JSONResponse({"ok": False, "conflict": True, "error": str(exc), "current": current}, 409)
        except (ReviewError, StoreError) as exc:
            return _error(str(exc), 400)
        reply: dict[str, Any] = {"ok": True, "decision": decision_json(decision)}
        if kind == "manual":
            slots = await run_in_threadpool(self.data.slots, item)
            reply["next"] = next_unmarked(slots, student, item)
        return JSONResponse(reply)

    async def api_resolve(self, request: Request) -> Response:
        marker = self.marker(request)
        if not marker:
            return _error("enter your name first (top of the page)", 400)
        try:
            body = await self._body(request)
            response = str(body.get("response") or "").strip()
            if not response:
                raise ReviewError("write a response to the student before resolving the request")
            number = int(request.path_params["number"])
            done = await run_in_threadpool(
                lambda: self.data.store.resolve_regrade(number, marker=marker, response=response[:5000])
            )
        except ConflictError as exc:
            return JSONResponse({"ok": False, "conflict": True, "error": str(exc)}, 409)
        except (ReviewError, StoreError) as exc:
            return _error(str(exc), 400)
        return JSONResponse({"ok": True, "status": done.status})

    async def api_publish(self, request: Request) -> Response:
        self.publisher.request()
        return JSONResponse({"ok": True})

    # ------------------------------------------------------------------ wiring

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        yield
        if self.publish_on_exit:
            state = await run_in_threadpool(self.publisher.state)
            if state.unpublished or state.running:
                await run_in_threadpool(self.publisher.publish_now)

    def routes(self) -> list[Route]:
        return [
            Route("/", self.home),
            Route("/mark/{item}", self.first_in_queue),
            Route("/mark/{item}/{student}", self.mark_page),
            Route("/student/{student}", self.student_page),
            Route("/audit", self.audit_page),
            Route("/regrades", self.regrades_page),
            Route("/static/review.js", self.script_file),
            Route("/api/state", self.api_state),
            Route("/api/marks", self.api_marks),
            Route("/api/marker", self.api_marker, methods=["POST"]),
            Route("/api/mark", self.api_mark, methods=["POST"]),
            Route("/api/override", self.api_override, methods=["POST"]),
            Route("/api/regrades/{number:int}/resolve", self.api_resolve, methods=["POST"]),
            Route("/api/publish", self.api_publish, methods=["POST"]),
        ]


def create_app(
    out_dir: Path,
    *,
    token: str,
    assignment: Assignment | None = None,
    marker: str | None = None,
    publish_on_exit: bool = True,
) -> Any:
    """The ASGI application: the routes behind the token and same-origin gate."""
    review = ReviewApp(
        out_dir,
        token=token,
        assignment=assignment,
        marker=marker,
        publish_on_exit=publish_on_exit,
    )
    app = Starlette(routes=review.routes(), lifespan=review.lifespan)
    app.state.review = review
    return Guard(app, token=token)


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)
