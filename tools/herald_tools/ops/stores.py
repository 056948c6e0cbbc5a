"""`herald stores`: the storefront registry for operators (add, list, show, check).

The registry is one SSM parameter per storefront under `/herald/<stack>/storefronts`
(herald.adapters.ssm_storefronts). An entry is validated by the functions' own model before it is written, so an
operator's typo is refused here and not at the first send. An entry names secrets and never holds one; `check`
reads the secrets it names only to see their keys (or, for the intake's signing secrets, that they are not
empty), and never prints a value. It also names entries that claim one intake slug or Shopify shop domain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from herald.adapters.ssm_storefronts import SsmStorefronts
from herald.domain.storefront import Storefront

# The keys Herald reads from each secret (herald.handlers.secrets).
SENDGRID_SECRET_KEYS = ("api_key",)
TWILIO_SECRET_KEYS = ("account_sid", "auth_token")
# An entry file is small: a larger one is not an entry (SSM's advanced tier holds at most 8 KB).
MAX_ENTRY_FILE_BYTES = 64 * 1024


class StoresError(Exception):
    """A file that cannot be read, or an entry that cannot be written: exit code 2."""


class EntryInvalid(Exception):
    """The model refuses the entry; `problems` has one line per field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class EntryExists(Exception):
    """The registry already has an entry for this source (and --replace was not given)."""


def registry_path(stack: str) -> str:
    """The stack's registry path, as template.yaml names it (HERALD_STOREFRONTS_PATH)."""
    return f"/herald/{stack}/storefronts"


# --- add ------------------------------------------------------------------------------------------


def read_entry_file(path: Path) -> dict[str, Any]:
    """An entry from a JSON or YAML file (YAML is a superset of JSON, but a .json file is read as JSON so its
    errors name JSON's line and column)."""
    try:
        if path.stat().st_size > MAX_ENTRY_FILE_BYTES:
            raise StoresError(f"{path} is larger than {MAX_ENTRY_FILE_BYTES} bytes: not a storefront entry")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise StoresError(f"cannot read {path}: {error}") from None
    if path.suffix.lower() == ".json":
        try:
            value = json.loads(text)
        except ValueError as error:
            raise StoresError(f"{path} is not valid JSON: {error}") from None
    else:
        import yaml

        try:
            # S506: the loader is a SafeLoader subclass (below): no arbitrary objects are built.
            value = yaml.load(text, Loader=_entry_yaml_loader())  # noqa: S506
        except yaml.YAMLError as error:
            raise StoresError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(value, dict):
        raise StoresError(f"{path} must hold one entry (a mapping of fields), not {type(value).__name__}")
    return value


# YAML 1.1's base-60 numbers (`21:00`, `1:30:00.5`), which PyYAML resolves as int or float.
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$")


def _entry_yaml_loader() -> Any:
    """PyYAML's SafeLoader without YAML 1.1's base-60 numbers: there an unquoted `start: 21:00` is the number
    1260, which the model would take as 00:21:00 without a word. Here it stays the string "21:00", as in JSON."""
    import yaml

    class EntryLoader(yaml.SafeLoader):
        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is yaml.ScalarNode and implicit[0] and _SEXAGESIMAL.match(value):
                return "tag:yaml.org,2002:str"
            return super().resolve(kind, value, implicit)

    return EntryLoader


def build_entry(file_values: Mapping[str, Any] | None, options: Mapping[str, Any]) -> Storefront:
    """The entry from a file's fields and the command line's (which win); options left unset are None."""
    from pydantic import ValidationError

    values = dict(file_values or {})
    values.update({key: value for key, value in options.items() if value is not None and value != []})
    try:
        return Storefront.model_validate(values)
    except ValidationError as error:
        raise EntryInvalid(problem_lines(error)) from None


def problem_lines(error: Any) -> list[str]:
    """A pydantic ValidationError as one `field: problem` line per problem (the entry itself: `entry`)."""
    lines = []
    for issue in error.errors():
        field = ".".join(str(part) for part in issue["loc"]) or "entry"
        lines.append(f"{field}: {issue['msg']}")
    return lines


def add(directory: SsmStorefronts, entry: Storefront, *, replace: bool) -> None:
    """Write the entry; an existing one (valid or not) is kept unless `replace`.

    SSM refuses the write itself when the parameter exists and Overwrite is false, so two operators adding the
    same source at once cannot both think they wrote it.
    """
    from botocore.exceptions import ClientError

    try:
        directory.put(entry, overwrite=replace)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code == "ParameterAlreadyExists":
            raise EntryExists(
                f"the registry already has an entry for {entry.source!r} ({directory.name_of(entry.source)}): "
                "give --replace to overwrite it"
            ) from None
        raise StoresError(f"cannot write {directory.name_of(entry.source)}: {error}") from None


# --- list, show ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """One row of `herald stores list`: an entry, or the parameter the model refuses and why (one line a field)."""

    name: str  # the SSM parameter
    entry: Storefront | None
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        if self.entry is not None:
            return {"parameter": self.name, "entry": self.entry.model_dump(mode="json")}
        return {"parameter": self.name, "problems": list(self.problems)}


def list_entries(directory: SsmStorefronts, ssm: Any) -> list[Listed]:
    """Every parameter under the registry's path. Read here rather than through `directory.entries()`, which
    joins a broken entry's problems into one string: an operator reads them one field a line."""
    from pydantic import ValidationError

    rows = []
    prefix = directory.name_of("").rstrip("/")
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=prefix, Recursive=True):
        for parameter in page["Parameters"]:
            try:
                rows.append(Listed(parameter["Name"], Storefront.model_validate_json(parameter["Value"])))
            except ValidationError as error:
                rows.append(Listed(parameter["Name"], None, tuple(problem_lines(error))))
    return rows


def sms_sender(entry: Storefront) -> str:
    return entry.twilio_messaging_service_sid or entry.sms_from or "-"


def show(directory: SsmStorefronts, source: str) -> Storefront | None:
    """The entry for the source; None when there is none. Raises StorefrontEntryInvalid for a broken one."""
    return directory.get(source)


# --- check --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    source: str
    what: str
    ok: bool
    detail: str


def check_entries(
    entries: Iterable[Listed], *, secretsmanager: Any, sesv2: Any, registry: Iterable[Listed] | None = None
) -> list[Check]:
    """Every check of each entry. `registry` is the whole registry when `entries` is a part of it (one source):
    two entries claiming one intake slug or shop domain are a conflict whichever of them is checked."""
    rows = list(entries)
    checks: list[Check] = []
    for row in rows:
        if row.entry is None:
            checks.append(Check(row.name, "entry", False, f"the model refuses it: {'; '.join(row.problems)}"))
            continue
        checks.extend(check_entry(row.entry, secretsmanager=secretsmanager, sesv2=sesv2))
    checked = {row.entry.source for row in rows if row.entry is not None}
    everyone = [row.entry for row in (rows if registry is None else registry) if row.entry is not None]
    checks.extend(c for c in intake_conflicts(everyone) if c.source in checked)
    return checks


def check_entry(entry: Storefront, *, secretsmanager: Any, sesv2: Any) -> list[Check]:
    """What an entry needs to send: its secrets with their keys, its SES identity verified, a publisher; and
    what its intake needs to verify the platforms' webhooks: each platform secret it names, non-empty."""
    source = entry.source
    checks = [
        _secret_check(secretsmanager, source, "SendGrid secret", entry.sendgrid_secret_id, SENDGRID_SECRET_KEYS),
        _secret_check(secretsmanager, source, "Twilio secret", entry.twilio_secret_id, TWILIO_SECRET_KEYS),
        _ses_check(sesv2, source, entry.ses_sending_identity),
    ]
    if entry.outbound is not None:
        checks.append(_outbound_secret_check(secretsmanager, source, entry.outbound.secret_id))
    if entry.publishers:
        checks.append(Check(source, "publishers", True, f"{len(entry.publishers)} allowed to publish"))
    else:
        checks.append(Check(source, "publishers", False, "none: every event from this source is refused"))
    if entry.intake is not None:
        from herald.intake.updates import PLATFORMS  # the contract's models: only for an entry with an intake

        for platform in PLATFORMS:
            secret_id = getattr(entry.intake, f"{platform}_secret_id")
            if secret_id is not None:
                checks.append(_signing_secret_check(secretsmanager, source, f"{platform} intake secret", secret_id))
    return checks


def intake_conflicts(entries: Iterable[Storefront]) -> list[Check]:
    """A failed check for each entry that claims an intake slug or a Shopify shop domain another entry claims too.

    The intake serves neither of them (adapters.ssm_storefronts.IntakeIndex), so that a copied entry never
    receives another storefront's reports: each of the entries is told, naming the others. Names are compared as
    the index looks them up (a shop domain in lower case).
    """
    claims: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        if entry.intake is None:
            continue
        for what, name in (
            ("intake slug", entry.intake.slug),
            ("Shopify shop domain", (entry.intake.shopify_shop_domain or "").strip().lower() or None),
        ):
            if name is not None and entry.source not in claims.setdefault((what, name), []):
                claims[(what, name)].append(entry.source)
    checks = []
    for (what, name), sources in sorted(claims.items()):
        if len(sources) < 2:
            continue
        for source in sources:
            others = ", ".join(other for other in sources if other != source)
            checks.append(
                Check(source, what, False, f"{name} is also claimed by {others}: the intake serves neither entry")
            )
    return checks


def _read(
    call: Callable[[], Any], source: str, what: str, name: str, missing: tuple[str, str]
) -> tuple[Any, Check | None]:
    """One AWS read for a check: its answer, or the failed check ("name: <text>" when AWS answers with the
    `missing` (code, text), else "cannot read it" with AWS's code). Only the error's code is shown, never a value."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call(), None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        reason = missing[1] if code == missing[0] else f"cannot read it ({code})"
    except BotoCoreError as error:
        reason = f"cannot read it ({type(error).__name__})"
    return None, Check(source, what, False, f"{name}: {reason}")


def _secret_check(client: Any, source: str, what: str, secret_id: str, keys: tuple[str, ...]) -> Check:
    """The secret exists, is a JSON object, and has every key non-empty. Its value is read, never shown: every
    detail below names keys only."""
    found, failed = _read(
        lambda: client.get_secret_value(SecretId=secret_id),
        source,
        what,
        secret_id,
        ("ResourceNotFoundException", "no such secret"),
    )
    if failed:
        return failed
    value = found.get("SecretString")
    try:
        secret = json.loads(value) if value is not None else None
    except ValueError:
        secret = None  # the decoder's message quotes the value: never shown
    if not isinstance(secret, dict):
        return Check(source, what, False, f"{secret_id}: not a JSON object")
    missing = [key for key in keys if not secret.get(key)]
    if missing:
        return Check(source, what, False, f"{secret_id}: lacks {', '.join(missing)}")
    return Check(source, what, True, f"{secret_id}: has {', '.join(keys)}")


def _signing_secret_check(client: Any, source: str, what: str, secret_id: str) -> Check:
    """A platform's signing secret: the SecretString is the value itself (handlers.secrets.Secrets.text), so it
    must exist and not be blank. Read, never shown: the details name the secret only."""
    found, failed = _read(
        lambda: client.get_secret_value(SecretId=secret_id),
        source,
        what,
        secret_id,
        ("ResourceNotFoundException", "no such secret"),
    )
    if failed:
        return failed
    value = found.get("SecretString")
    if value is None:
        return Check(source, what, False, f"{secret_id}: holds no SecretString (a binary secret is not read)")
    if not value.strip():
        return Check(source, what, False, f"{secret_id}: its SecretString is empty")
    return Check(source, what, True, f"{secret_id}: holds a signing secret")


def _outbound_secret_check(client: Any, source: str, secret_id: str) -> Check:
    """The outbound webhooks' signing secret exists and holds Standard Webhooks keys (`whsec_...`, or a
    {"keys": [...]} list). Its value is read, never shown: the details name the count of keys or the problem."""
    from herald.webhooks.standard_webhooks import SigningSecretInvalid, signing_keys

    what = "outbound signing secret"
    found, failed = _read(
        lambda: client.get_secret_value(SecretId=secret_id),
        source,
        what,
        secret_id,
        ("ResourceNotFoundException", "no such secret"),
    )
    if failed:
        return failed
    try:
        keys = signing_keys(found.get("SecretString") or "")
    except SigningSecretInvalid as error:  # its message never quotes the value
        return Check(source, what, False, f"{secret_id}: {error}")
    return Check(source, what, True, f"{secret_id}: {len(keys)} signing key{'s' if len(keys) != 1 else ''}")


def _ses_check(client: Any, source: str, identity: str) -> Check:
    what = "SES identity"
    found, failed = _read(
        lambda: client.get_email_identity(EmailIdentity=identity),
        source,
        what,
        identity,
        ("NotFoundException", "not an identity in SES"),
    )
    if failed:
        return failed
    status = found.get("VerificationStatus", "unknown")
    if found.get("VerifiedForSendingStatus"):
        return Check(source, what, True, f"{identity}: verified for sending")
    return Check(source, what, False, f"{identity}: not verified for sending (verification {status})")


def entry_for_show(entry: Storefront) -> str:
    return json.dumps(entry.model_dump(mode="json"), indent=2, ensure_ascii=False)
