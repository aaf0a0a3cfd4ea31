"""The error taxonomy: every failure a user can meet, each with one plain message.

Cogs show `user_message`; only this module looks inside OpenAI's exceptions.
"""

from __future__ import annotations

import secrets
from typing import Any

import openai

from bot.core.i18n import Message, Text, tr, tr_n
from bot.core.usage import Usage


class ImageError(Exception):
    """A failure with a message that is safe and useful to show the member who asked."""

    code = "error"
    # True when only the caller should see the message (their input, their quota).
    private = False

    # What OpenAI reported a failed response used, when it said (charged, see bot.core.service).
    usage: Usage | None = None

    def __init__(self, user_message: Message, *, detail: str | None = None) -> None:
        super().__init__(detail or str(user_message))
        # A Text (catalogue id and parameters) rendered in the member's language at the Discord edge.
        self.user_message: Message = user_message
        # Quoted to the member and logged with the upstream detail, so the owner can find one failure.
        self.error_id = secrets.token_hex(4)


class InvalidInput(ImageError):
    code = "invalid_input"
    private = True


class NothingToEdit(InvalidInput):
    code = "nothing_to_edit"


class Unavailable(ImageError):
    code = "unavailable"
    private = True


class OverBudget(ImageError):
    code = "over_budget"
    private = True


class TooManyJobs(ImageError):
    code = "too_many_jobs"
    private = True


class Cancelled(ImageError):
    code = "cancelled"


class Blocked(ImageError):
    code = "moderation_blocked"


class RateLimited(ImageError):
    code = "rate_limited"


class QuotaExhausted(ImageError):
    code = "insufficient_quota"


class ModelUnavailable(ImageError):
    code = "model_unavailable"


class ChainExpired(ImageError):
    code = "previous_response_not_found"


class ItemExpired(ImageError):
    """An item_reference to an earlier result that OpenAI no longer has (or never stored)."""

    code = "item_not_found"


class Upstream(ImageError):
    code = "upstream"


class StreamBroken(ImageError):
    code = "stream_broken"


def too_many_jobs(in_flight: int, limit: int) -> TooManyJobs:
    return TooManyJobs(tr_n(
        "You already have {count} image in progress (the limit is {limit}). Please wait for one to finish.",
        "You already have {count} images in progress (the limit is {limit}). Please wait for one to finish.",
        in_flight, limit=limit,
    ))


def blocked_message(details: Any) -> Text:
    """Say the request was blocked, naming the stage and categories when OpenAI gives them."""
    stage = _field(details, "moderation_stage")
    categories = ", ".join(str(c) for c in _field(details, "categories") or [])
    where = None
    if stage in ("input", "output"):
        where = tr("your prompt") if stage == "input" else tr("the generated image")
    if where is not None and categories:
        return tr("Your request was blocked by OpenAI's safety system ({where}; categories: {categories}). "
                  "Try rephrasing it.", where=where, categories=categories)
    if where is not None:
        return tr("Your request was blocked by OpenAI's safety system ({where}). Try rephrasing it.", where=where)
    if categories:
        return tr("Your request was blocked by OpenAI's safety system (categories: {categories}). "
                  "Try rephrasing it.", categories=categories)
    return tr("Your request was blocked by OpenAI's safety system. Try rephrasing it.")


def from_openai(exc: openai.OpenAIError, *, model_setting: str = "OPENAI_MODEL") -> ImageError:
    """Translate one SDK exception into the taxonomy."""
    if isinstance(exc, openai.APITimeoutError):
        return StreamBroken(tr("OpenAI stopped responding before the image was finished. Please try again."))
    if isinstance(exc, openai.APIConnectionError):
        return StreamBroken(tr("The connection to OpenAI broke before the image was finished. Please try again."))
    if isinstance(exc, openai.APIError):
        return from_error_fields(
            code=exc.code, message=exc.message, body=exc.body, status=getattr(exc, "status_code", None),
            param=exc.param, model_setting=model_setting,
        )
    return Upstream(tr("OpenAI could not make this image. Please try again."), detail=str(exc))


def from_error_fields(
    *, code: str | None, message: str | None, body: Any = None, status: int | None = None,
    param: str | None = None, model_setting: str = "OPENAI_MODEL",
) -> ImageError:
    """Map an OpenAI error (HTTP body, in-stream event or failed item) by its code, never its wording."""
    detail = f"{status or '-'} {code or '-'}: {message or ''}"
    if code in ("moderation_blocked", "image_content_policy_violation", "content_policy_violation"):
        return Blocked(blocked_message(_field(body, "moderation_details")), detail=detail)
    if code == "insufficient_quota":
        return QuotaExhausted(
            tr("The bot's OpenAI account is out of credit, so it can't make images right now. "
               "The server owner has been told."), detail=detail,
        )
    if code == "rate_limit_exceeded" or status == 429:
        return RateLimited(tr("OpenAI is busy right now (rate limit). Please try again in a minute."), detail=detail)
    if code == "previous_response_not_found":
        return ChainExpired(tr("OpenAI no longer has this conversation."), detail=detail)
    if status == 404 and param == "input":
        return ItemExpired(tr("OpenAI no longer has that image."), detail=detail)
    if code == "model_not_found" or (status == 404 and param in (None, "model")):
        return ModelUnavailable(
            tr("The configured model is not available. The bot owner needs to change {setting}.",
               setting=model_setting),
            detail=detail,
        )
    if code == "invalid_value" and param == "tools":
        return ModelUnavailable(
            tr("The configured image model is not available. The bot owner needs to change {setting}.",
               setting="IMAGE_MODEL"),
            detail=detail,
        )
    if code == "invalid_value" and (param or "").endswith(".size"):
        return InvalidInput(
            tr("OpenAI refused this picture size for the image model in use. Pick a standard size (the size "
               "option) or another aspect/resolution; the bot owner can check {setting}.",
               setting="IMAGE_ANY_SIZE_MODELS"), detail=detail,
        )
    if code == "unsupported_parameter" and (param or "").endswith(".input_fidelity"):
        return InvalidInput(
            tr("The image model in use doesn't take the fidelity option. Leave it out; the bot owner can check "
               "{setting}.", setting="IMAGE_FIDELITY_MODELS"), detail=detail,
        )
    if status == 400 or status == 422:
        # OpenAI's own wording names parameters and internals; it goes to the log (with the id), not the member.
        return _with_id(InvalidInput(
            tr("OpenAI couldn't accept this request. Try rephrasing it or choosing other options."), detail=detail
        ))
    return _with_id(Upstream(tr("OpenAI had a problem making this image. Please try again."), detail=detail))


def _with_id(error: ImageError) -> ImageError:
    error.user_message = tr("{message} (error id {error_id})", message=error.user_message, error_id=error.error_id)
    return error


def _field(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)
