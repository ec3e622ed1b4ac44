"""What an instructor does on each platform to connect it: shown on the connection's page
and in docs/integrations.md. From the platforms' own documentation (docs.teachable.com
"Add and manage webhooks"; support.thinkific.dev "Using Webhooks"); their menus can move,
the event names cannot."""

from __future__ import annotations

FIND_IDS = (
    "Map each course (and, to complete a module on one lesson, that lesson) to a module "
    "below. The easiest way to find the ids: complete one lesson as a test student; the "
    "delivery appears under Webhook events as “Unmapped” with its course and lesson ids. "
    "Map them, then replay that event."
)

SETUP_STEPS: dict[str, tuple[str, ...]] = {
    "teachable": (
        "In Teachable, open Settings → Webhooks and add a webhook.",
        "Paste the whole webhook URL above (it contains this connection's secret token; "
        "Teachable signs nothing, so the token is what proves a delivery is from your school). "
        "Sending the data as a JSON array works too.",
        "Select the events “Lecture completed” (LectureProgress.created) and "
        "“Enrollment completed” (Enrollment.completed); other events are received and ignored.",
        "Course ids are the number after /courses/ in a course's admin address; lecture ids "
        "the number after /lectures/ in a lecture's address. " + FIND_IDS,
    ),
    "thinkific": (
        "In Thinkific, create the webhook under Settings → Code & analytics → Webhooks, or "
        "through Thinkific's API.",
        "Paste the webhook URL above.",
        "Choose the topics “Lesson completed” (lesson.completed) and “Enrollment completed” "
        "(enrollment.completed); “Enrollment progress” (enrollment.progress) completes a "
        "course's module at 100 %.",
        "Ask a site admin to set the signing secret: the site's API key (Settings → Code & "
        "analytics → API), or your app's client secret for an app. Thinkific signs every "
        "delivery with it (X-Thinkific-Hmac-Sha256).",
        "Course ids are the number after /courses/ in the course builder's address; lesson ids "
        "the number after /lessons/ in a lesson's. " + FIND_IDS,
    ),
    "standard": (
        "In the sending system, add an endpoint with the webhook URL above.",
        "Ask a site admin to set the endpoint's signing secret (whsec_…) here.",
        "Send “lesson.completed” or “course.completed” events with data {email, course_id, "
        "lesson_id} (described in the API documentation at /api/docs/).",
        FIND_IDS,
    ),
}
