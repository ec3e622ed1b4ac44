"""The student's pages: landing, self-assessment, progress (and its two POST actions)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from curriculum.models import Key, Module
from curriculum.rules import CurriculumRules
from curriculum.selectors import curriculum_rules

from .forms import AccountNameForm, SelfAssessmentForm
from .models import Learner
from .progress_page import (
    lowering_warning,
    progress_body_html,
    progress_learner,
    progress_page_html,
    pyramid_tiers,
    what_opens,
    with_form_token,
    with_status,
)
from .services import (
    Recomputed,
    key_set_done,
    learner_ensure,
    learner_set_assessment,
    module_set_done,
    user_set_name,
)

# What the progress view reads of the learner to find their cached page (the rest of the
# row is read only to render it).
PROGRESS_KEY_FIELDS = ("pk", "version", "track", "assessment_submitted_at")


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    rules = curriculum_rules()
    return render(
        request,
        "learners/home.html",
        {
            "tiers": pyramid_tiers(rules.level_names, current=None),
            "stages": [
                (stage, [(n, rules.module_titles.get(n, "")) for n in stage.modules])
                for stage in rules.stages
            ],
        },
    )


def _learner(request: HttpRequest, *fields: str) -> Learner:
    """The signed-in user's learner profile (one query): the whole row with its track, or
    only ``fields`` (a tick reads its id and track before the service locks the row);
    created for accounts made outside the signup form, such as a superuser."""
    # get(), not first(): it drops the model's ordering (by the user's email, a join).
    learners = Learner.objects.only(*fields) if fields else Learner.objects.select_related("track")
    try:
        return learners.get(user=request.user)
    except Learner.DoesNotExist:
        learner_ensure(user=request.user)
        return learners.get(user=request.user)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    learner = _learner(request)
    if request.method == "POST":
        form = SelfAssessmentForm.for_learner(learner, data=request.POST)
        lowering = ""
        if form.is_valid() and learner.has_assessment and not request.POST.get("confirm_lower"):
            lowering = lowering_warning(
                learner, track_slug=form.cleaned_data["track"].slug, answers=form.answers()
            )
        if form.is_valid() and not lowering:
            try:
                result = learner_set_assessment(
                    learner=learner,
                    track=form.cleaned_data["track"],
                    answers=form.answers(),
                    timezone_name=form.cleaned_data["timezone"],
                    nudges_enabled=form.cleaned_data["nudges_enabled"],
                )
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                said = (
                    f"Your self-assessment is saved. You are at level "
                    f"{result.placement.level}: {result.placement.level_name}."
                )
                if result.change is not None and not result.went_up:
                    messages.warning(request, said)
                else:
                    messages.success(request, said)
                return redirect("progress")
    else:
        form = SelfAssessmentForm.for_learner(learner)
        lowering = ""
    return render(
        request,
        "learners/profile.html",
        {
            "form": form,
            "learner": learner,
            "detect_timezone": not learner.has_assessment,
            "lowering": lowering,
            "level_guide": _level_guide(curriculum_rules()),
        },
    )


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """The student's account: their name here; their email address, password, second
    factor, data and deletion on the pages that own them, one link each."""
    user = request.user
    if request.method == "POST":
        form = AccountNameForm(request.POST)
        if form.is_valid():
            user_set_name(user=user, **form.cleaned_data)
            messages.success(request, "Your name is saved.")
            return redirect("account")
    else:
        form = AccountNameForm(initial={"first_name": user.first_name, "last_name": user.last_name})
    return render(request, "learners/account.html", {"form": form})


def _level_guide(rules: CurriculumRules) -> list[dict]:
    """Per track, the document's four "Your Level" lines and each level's symptoms, so a
    student recognises where they are before answering."""
    return [
        {
            "slug": slug,
            "levels": [
                {
                    "number": number,
                    "name": rules.level_name(number),
                    "texts": texts,
                    "heading": texts.symptoms_heading or "Does this sound like you?",
                }
                for number, texts in sorted(track.texts.items())
            ],
        }
        for slug, track in rules.tracks.items()
    ]


@login_required
@require_GET
def progress(request: HttpRequest) -> HttpResponse:
    """The learner's level, reasons, next steps, checklist and history.

    The page is cached whole (layout included) but for the form's CSRF token, which is the
    session's own: it is cached with a slot the view fills. From the cache a view costs two
    small queries (the user; the learner's key fields); drawing it costs four more (the
    whole learner with its track, their completions and level history). A page with a flash
    message, or with a tick's Undo (without JavaScript), is drawn for its request only.
    """
    try:
        learner = Learner.objects.only(*PROGRESS_KEY_FIELDS).get(user=request.user)
    except Learner.DoesNotExist:  # an account made outside the signup form: the profile page
        learner = None  # makes its learner
    if learner is None or not learner.has_assessment or learner.track_id is None:
        messages.info(request, "Fill in your self-assessment first: it places you on the pyramid.")
        return redirect("profile")
    undo = _undo_from_query(request)
    if undo is None and not messages.get_messages(request):
        page = progress_page_html(request, learner)
        return HttpResponse(with_form_token(page, get_token(request)))
    body = progress_body_html(progress_learner(learner.pk), curriculum_rules())
    if undo is not None:
        # Without JavaScript: what the tick did and its Undo, together, right after the item.
        status = {"message": _said_of(undo), "level": "info", "undo": undo}
        body = with_status(body, undo.anchor, status)
    context = {"body": body, "form_token": get_token(request)}
    return render(request, "learners/progress.html", context)


def _done_flag(request: HttpRequest) -> bool | None:
    """The desired state a progress form posts: done=1 or done=0 (so a repeat is harmless)."""
    return {"1": True, "0": False}.get(request.POST.get("done", ""))


@login_required
@require_POST
def key_done(request: HttpRequest, key_id: int) -> HttpResponse:
    learner = _learner(request, "pk", "track_id")
    # A key of another track is not this learner's: 404, nothing changed.
    key = get_object_or_404(Key, pk=key_id, track_id=learner.track_id)
    done = _done_flag(request)
    if done is None:
        return HttpResponseBadRequest("done must be 1 or 0")
    rules = curriculum_rules()  # read once: the recompute and the answer's body use them
    try:
        result = key_set_done(
            learner=learner, key=key, done=done, undo=_is_undo(request), curriculum=rules
        )
    except ValidationError as error:
        return _refused(request, learner, " ".join(error.messages))
    what = f"Key {'ticked' if done else 'unticked'}: {key.full_text}"
    undo = Undo("key", key.pk, not done)
    return _report(request, learner, result, what, undo, f"key-{key.pk}", rules)


@login_required
@require_POST
def module_done(request: HttpRequest, module_id: int) -> HttpResponse:
    learner = _learner(request, "pk", "track_id")
    module = get_object_or_404(Module, pk=module_id)
    if learner.track_id is None:
        return redirect("profile")
    done = _done_flag(request)
    if done is None:
        return HttpResponseBadRequest("done must be 1 or 0")
    rules = curriculum_rules()  # read once: the recompute and the answer's body use them
    try:
        result = module_set_done(
            learner=learner, module=module, done=done, undo=_is_undo(request), curriculum=rules
        )
    except ValidationError as error:  # completed on a platform: only an instructor unticks
        return _refused(request, learner, " ".join(error.messages))
    state = "completed" if done else "marked not done"
    return _report(
        request,
        learner,
        result,
        f"Module {module.number} {state}: {module.title}",
        Undo("module", module.pk, not done, number=module.number),
        f"module-{module.number}",
        rules,
    )


UNDO_PARAM = "undo"


def _is_undo(request: HttpRequest) -> bool:
    """The POST came from a toast's Undo button (its action carries ``?undo=1``)."""
    return request.GET.get(UNDO_PARAM) == "1"


@dataclass(frozen=True)
class Undo:
    """The action that undoes a tick: the same item, the other state."""

    kind: str  # "key" or "module"
    pk: int
    done: bool
    number: int | None = None  # a module's number, when the caller has it

    @property
    def url(self) -> str:
        # Marked as an Undo: the level change it makes leaves the student's history with
        # the change it reverses.
        view = "key_done" if self.kind == "key" else "module_done"
        return f"{reverse(view, args=[self.pk])}?{UNDO_PARAM}=1"

    @property
    def query(self) -> str:
        return f"{self.kind}-{self.pk}-{int(self.done)}"

    @property
    def anchor(self) -> str:
        """The id of the item's row on the page."""
        if self.kind == "key":
            return f"key-{self.pk}"
        number = self.number
        if number is None:
            number = Module.objects.filter(pk=self.pk).values_list("number", flat=True).first()
        return f"module-{number}"

    @property
    def toggle_id(self) -> str:
        return f"toggle-{self.anchor}"


def _undo_from_query(request: HttpRequest) -> Undo | None:
    """The Undo offered after a tick without JavaScript (the redirect names it: ?undo=key-12-0).
    Only a well-formed value is read; the POST it leads to checks everything again."""
    match = re.fullmatch(r"(key|module)-(\d{1,12})-([01])", request.GET.get("undo", ""))
    if match is None:
        return None
    return Undo(match.group(1), int(match.group(2)), match.group(3) == "1")


def _said_of(undo: Undo) -> str:
    """What the tick that ``undo`` reverses did, in the words of its announcement."""
    if undo.kind == "key":
        key = Key.objects.filter(pk=undo.pk).only("verb", "text").first()
        text = key.full_text if key else "a key"
        return f"Key {'unticked' if undo.done else 'ticked'}: {text}."
    module = Module.objects.filter(pk=undo.pk).only("number", "title").first()
    if module is None:
        return "Module updated."
    state = "marked not done" if undo.done else "completed"
    return f"Module {module.number} {state}: {module.title}."


def _refused(request: HttpRequest, learner: Learner, message: str) -> HttpResponse:
    if request.htmx:
        status = {"message": message, "level": "error", "undo": None}
        return _in_place(progress_learner(learner.pk), request, status)
    messages.error(request, message)
    return redirect("progress")


def _report(
    request: HttpRequest,
    learner: Learner,
    result: Recomputed,
    what: str,
    undo: Undo,
    anchor: str,
    rules: CurriculumRules,
) -> HttpResponse:
    """Say what changed. With htmx: the page's body and the announcement, in place. Without
    JavaScript: redirect (POST-redirect-GET) back to the item, or to the top of the page when
    the level changed, so the new level and the message are in view; both offer an Undo."""
    placement = result.placement
    said: list[tuple[str, int]] = []
    if result.went_up:
        said.append(
            (
                f"Congratulations! You moved up to level {placement.level}: "
                f"{placement.level_name}.",
                messages.SUCCESS,
            )
        )
    elif result.change is not None:
        said.append(
            (f"Your level is now {placement.level}: {placement.level_name}.", messages.WARNING)
        )
    said.append((f"{what}.", messages.INFO))
    if request.htmx:
        return _in_place(
            result.learner,
            request,
            {
                "message": " ".join(text for text, _ in said),
                "level": messages.DEFAULT_TAGS[said[0][1]],
                "went_up": result.went_up,
                "opens": what_opens(placement) if result.went_up else "",
                "undo": undo,
            },
            rules,
        )
    # The tick's own words go with its Undo, next to the item (the progress view); a change
    # of level is said at the top of the page, where the new level is.
    for text, level in said[:-1]:
        extra = "congrats" if result.went_up and level == messages.SUCCESS else ""
        messages.add_message(request, level, text, extra_tags=extra)
    url = f"{reverse('progress')}?undo={undo.query}"
    return redirect(url if result.change is not None else f"{url}#{anchor}")


def _in_place(
    learner: Learner, request: HttpRequest, status: dict, rules: CurriculumRules | None = None
) -> HttpResponse:
    """What htmx swaps in: the fresh page body of ``learner`` (the whole row with their
    track, as the tick left it) and, out of band, the announcement in the page's live
    region. The body is not cached: the tick changed the learner's version, and their next
    view draws it once under the new one."""
    body = progress_body_html(learner, rules or curriculum_rules())
    undo = status.get("undo")
    if undo is not None:
        body = with_status(body, undo.anchor, status)
    return render(
        request,
        "learners/progress_fragment.html",
        {"body": body, "status": status, "inline": undo is not None},
    )
