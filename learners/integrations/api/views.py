"""The API's endpoints: thin, each validates its input and calls one service or selector."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, pagination, status
from rest_framework.response import Response

from curriculum.models import Key, Module

from ...models import (
    CompletionSource,
    KeyCompletion,
    Learner,
    ModuleProgress,
    account_change_allowed,
)
from ...selectors import learner_placement, learner_progress
from ...services import key_set_done, module_set_done
from ..selectors import learner_by_email, learners_filtered
from ..upsert import UpsertInvalid, learner_upsert
from .base import ApiView
from .schema import (
    NO_QUERY,
    PATH_PARAMETERS,
    RATE_LIMIT_HEADERS,
    READ_PROBLEMS,
    WRITE_PROBLEMS,
    problems,
)
from .serializers import (
    LEARNER_FILTERS,
    DoneSerializer,
    DoneStateSerializer,
    LearnerPageSerializer,
    LearnerQuerySerializer,
    LearnerSerializer,
    LearnerWriteSerializer,
    PlacementSerializer,
    UpsertedSerializer,
)


def _learner(email: str, *, for_write: bool = False) -> Learner:
    learner = learner_by_email(email)
    if learner is None:
        raise exceptions.NotFound(f"No learner has the email “{email}”.")
    if for_write and not account_change_allowed(account=learner.user, actor=None):
        raise exceptions.PermissionDenied("This is a staff account; the API does not change it.")
    return learner


def _invalid(error: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError(
            {field: [str(m) for m in messages] for field, messages in error.message_dict.items()}
        )
    return exceptions.ValidationError({"done": error.messages})


class LearnerCursorPagination(pagination.CursorPagination):
    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound as error:  # DRF answers a bad cursor with 404
            raise exceptions.ValidationError({"cursor": ["Not a cursor of this list."]}) from error


class LearnerListView(ApiView):
    query_serializer = LearnerQuerySerializer

    @extend_schema(
        operation_id="learners_list",
        summary="Learners, filtered by cohort, track, level and activity",
        description=(
            "Every filter narrows the list; a parameter this endpoint does not know, a "
            "blank or repeated one, a cohort no one has or an unknown track is refused with "
            "400, never answered with the whole list."
        ),
        parameters=[LearnerQuerySerializer, *RATE_LIMIT_HEADERS],
        responses={
            200: LearnerPageSerializer,
            **problems(
                400,
                401,
                403,
                429,
                r400=(
                    "A query parameter this endpoint does not know, or one given blank or "
                    "twice; a cohort no one has; a track other than engineer or founder; a "
                    "number out of range; a cursor not from this list. `errors` says which."
                ),
            ),
        },
    )
    def get(self, request):
        filters = {name: value for name, value in self.query.items() if name in LEARNER_FILTERS}
        paginator = LearnerCursorPagination()
        page = paginator.paginate_queryset(learners_filtered(**filters), request)
        return paginator.get_paginated_response(LearnerSerializer(page, many=True).data)


class LearnerView(ApiView):
    @extend_schema(
        operation_id="learners_retrieve",
        summary="A learner by email",
        parameters=PATH_PARAMETERS,
        responses={200: LearnerSerializer, **problems(*READ_PROBLEMS, r400=NO_QUERY)},
    )
    def get(self, request, email: str):
        return Response(LearnerSerializer(_learner(email)).data)

    @extend_schema(
        operation_id="learners_upsert",
        summary="Create or update a learner by email (the roster's fields and validation)",
        description=(
            "Blank or absent fields keep the current value, as in a roster import. A "
            "self-assessment is all of its track's answers or none. Staff accounts are "
            "never changed. Answers 201 when the learner was created, 200 otherwise."
        ),
        parameters=PATH_PARAMETERS,
        request=LearnerWriteSerializer,
        responses={
            200: UpsertedSerializer,
            201: UpsertedSerializer,
            **problems(
                *WRITE_PROBLEMS,
                r400=(
                    "A field is not valid (`errors` says which and why): a field this "
                    "endpoint does not know, a value of the wrong JSON type, an unknown track "
                    "or time zone, half of a self-assessment, an address that is not one, or "
                    "a staff account's address (the API never changes staff)."
                ),
            ),
        },
    )
    def put(self, request, email: str):
        values = LearnerWriteSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        try:
            result = learner_upsert(values=values.to_roster_values(email))
        except UpsertInvalid as invalid:
            raise exceptions.ValidationError(invalid.errors) from invalid
        data = UpsertedSerializer(
            {"created": result.created, "changes": result.changes, "learner": result.learner}
        ).data
        return Response(data, status=status.HTTP_201_CREATED if result.created else 200)


class PlacementView(ApiView):
    @extend_schema(
        operation_id="learners_placement",
        summary="A learner's placement: level, reasons and next steps",
        parameters=PATH_PARAMETERS,
        responses={200: PlacementSerializer, **problems(*READ_PROBLEMS, r400=NO_QUERY)},
    )
    def get(self, request, email: str):
        learner = _learner(email)
        progress = learner_progress(learner)
        placement = learner_placement(learner, progress=progress)
        steps = placement.next_steps
        data = {
            "email": learner.user.email,
            "track": learner.track.slug if learner.track_id else None,
            "level": placement.level,
            "level_name": placement.level_name,
            "reasons": list(placement.reasons),
            "next_steps": {
                "level": steps.level,
                "modules": list(steps.modules),
                "open_keys": [{"code": key.code, "text": key.text} for key in steps.open_keys],
                "keys_needed": steps.keys_needed,
                "maintaining": steps.maintaining,
                "gate_amount": steps.gate_amount,
            },
            "completed_modules": sorted(progress.completed_modules),
            "completed_keys": sorted(progress.completed_keys),
        }
        return Response(PlacementSerializer(data).data)


def _done_state(learner: Learner, completion, result) -> dict:
    return {
        "email": learner.user.email,
        "done": completion is not None,
        "completed_at": completion.completed_at if completion else None,
        "source": completion.source if completion else "",
        "level": result.placement.level,
        "level_name": result.placement.level_name,
    }


class ModuleDoneView(ApiView):
    @extend_schema(
        operation_id="learners_module_done",
        summary="Set whether the learner completed a module (idempotent)",
        parameters=[*PATH_PARAMETERS, OpenApiParameter("number", int, OpenApiParameter.PATH)],
        request=DoneSerializer,
        responses={
            200: DoneStateSerializer,
            **problems(
                *WRITE_PROBLEMS,
                r400='The body is not `{"done": true}` or `{"done": false}` (a JSON boolean).',
                r404="No such learner or module.",
            ),
        },
    )
    def put(self, request, email: str, number: int):
        body = DoneSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        learner = _learner(email, for_write=True)
        module = Module.objects.filter(number=number).first()
        if module is None:
            raise exceptions.NotFound(f"There is no module {number}.")
        result = module_set_done(
            learner=learner,
            module=module,
            done=body.validated_data["done"],
            source=CompletionSource.API,
            via=request.auth.label,
        )
        completion = ModuleProgress.objects.filter(learner=learner, module=module).first()
        return Response(DoneStateSerializer(_done_state(learner, completion, result)).data)


class KeyDoneView(ApiView):
    @extend_schema(
        operation_id="learners_key_done",
        summary="Set whether the learner completed a key to success (idempotent)",
        description=(
            "A key of the learner's own track, not module-linked (those follow their "
            "modules); anything else is refused with 400."
        ),
        parameters=[*PATH_PARAMETERS, OpenApiParameter("code", str, OpenApiParameter.PATH)],
        request=DoneSerializer,
        responses={
            200: DoneStateSerializer,
            **problems(
                *WRITE_PROBLEMS,
                r400=(
                    'The body is not `{"done": true}` or `{"done": false}`, or this key '
                    "cannot be set for this learner (`errors.key` says which): the learner "
                    "has no track yet (set one with PUT /api/v1/learners/{email}/), the key "
                    "belongs to the other track, or the key is module-linked (it follows "
                    "its modules)."
                ),
                r404="No such learner or key.",
            ),
        },
    )
    def put(self, request, email: str, code: str):
        body = DoneSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        learner = _learner(email, for_write=True)
        key = Key.objects.filter(code=code.lower()).first()
        if key is None:
            raise exceptions.NotFound(f"There is no key “{code}”.")
        try:
            result = key_set_done(
                learner=learner,
                key=key,
                done=body.validated_data["done"],
                source=CompletionSource.API,
                via=request.auth.label,
            )
        except DjangoValidationError as error:
            raise _invalid(error) from error
        completion = KeyCompletion.objects.filter(learner=learner, key=key).first()
        return Response(DoneStateSerializer(_done_state(learner, completion, result)).data)
