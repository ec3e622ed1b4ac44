"""The API's endpoints: thin, each validates its input and calls one service or selector."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, pagination, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

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
from .problems import CONTENT_TYPE, ProblemSerializer
from .serializers import (
    DoneSerializer,
    DoneStateSerializer,
    LearnerPageSerializer,
    LearnerSerializer,
    LearnerWriteSerializer,
    PlacementSerializer,
    UpsertedSerializer,
)


def _problems(*statuses: int) -> dict:
    described = {
        400: "The request is not valid (the field errors say why).",
        401: "No API key, or not a valid one.",
        403: "The key may not do this (scope), or the account is staff.",
        404: "No such learner, module or key.",
        429: "Too many requests for this key; retry after the Retry-After seconds.",
    }
    return {
        (code, CONTENT_TYPE): OpenApiResponse(ProblemSerializer, description=described[code])
        for code in statuses
    }


READ_PROBLEMS = (401, 403, 404, 429)
WRITE_PROBLEMS = (400, 401, 403, 404, 429)
EMAIL = OpenApiParameter("email", str, OpenApiParameter.PATH, description="The learner's email")


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


class LearnerDataView(APIView):
    """An endpoint whose answers (errors included) name learners: no cache on the way
    (a proxy, the client's HTTP cache) may keep them."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)
        return response


class LearnerFilterSerializer(serializers.Serializer):
    cohort = serializers.CharField(required=False, max_length=120, help_text="Cohort name")
    track = serializers.CharField(required=False, max_length=40, help_text="Track slug")
    level = serializers.IntegerField(required=False, min_value=1, max_value=4)
    active_within_days = serializers.IntegerField(
        required=False, min_value=0, max_value=3650, help_text="Active in the last N days"
    )
    inactive_days = serializers.IntegerField(
        required=False, min_value=0, max_value=3650, help_text="No activity for N days or more"
    )


class LearnerCursorPagination(pagination.CursorPagination):
    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class LearnerListView(LearnerDataView):
    @extend_schema(
        operation_id="learners_list",
        summary="Learners, filtered by cohort, track, level and activity",
        parameters=[LearnerFilterSerializer],
        responses={200: LearnerPageSerializer, **_problems(400, 401, 403, 429)},
    )
    def get(self, request):
        filters = LearnerFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = LearnerCursorPagination()
        page = paginator.paginate_queryset(learners_filtered(**filters.validated_data), request)
        return paginator.get_paginated_response(LearnerSerializer(page, many=True).data)


class LearnerView(LearnerDataView):
    @extend_schema(
        operation_id="learners_retrieve",
        summary="A learner by email",
        parameters=[EMAIL],
        responses={200: LearnerSerializer, **_problems(*READ_PROBLEMS)},
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
        parameters=[EMAIL],
        request=LearnerWriteSerializer,
        responses={
            200: UpsertedSerializer,
            201: UpsertedSerializer,
            **_problems(*WRITE_PROBLEMS),
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


class PlacementView(LearnerDataView):
    @extend_schema(
        operation_id="learners_placement",
        summary="A learner's placement: level, reasons and next steps",
        parameters=[EMAIL],
        responses={200: PlacementSerializer, **_problems(*READ_PROBLEMS)},
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


class ModuleDoneView(LearnerDataView):
    @extend_schema(
        operation_id="learners_module_done",
        summary="Set whether the learner completed a module (idempotent)",
        parameters=[EMAIL, OpenApiParameter("number", int, OpenApiParameter.PATH)],
        request=DoneSerializer,
        responses={200: DoneStateSerializer, **_problems(*WRITE_PROBLEMS)},
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


class KeyDoneView(LearnerDataView):
    @extend_schema(
        operation_id="learners_key_done",
        summary="Set whether the learner completed a key to success (idempotent)",
        description="Module-linked keys follow their modules and cannot be set (400).",
        parameters=[EMAIL, OpenApiParameter("code", str, OpenApiParameter.PATH)],
        request=DoneSerializer,
        responses={200: DoneStateSerializer, **_problems(*WRITE_PROBLEMS)},
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
