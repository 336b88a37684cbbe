"""The emulator's world: images, credentials, declared-missing OSS objects, settings."""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ens_image_kit.emulator.errors import image_not_found, no_permission
from ens_image_kit.emulator.images import PACK_FAILED, UPLOAD_FAILED, DiskSource, Image
from ens_image_kit.emulator.store import SqliteStore

# A request whose timestamp is further than this from the emulator's clock is refused, so a
# nonce only has to be remembered for twice as long.
TIMESTAMP_TOLERANCE = 15 * 60.0
IMPORT_ATTRIBUTES = frozenset(
    {
        "architecture",
        "compute_type",
        "image_format",
        "os_type",
        "os_version",
        "platform",
        "license_type",
        "target_region",
    }
)
_ID_ALPHABET = string.ascii_lowercase + string.digits
# The account every key acts for unless mapped to another one (16 digits, like an Alibaba Cloud UID).
DEFAULT_ACCOUNT_ID = "1000000000000001"


@dataclass(frozen=True)
class StsCredential:
    """A temporary key: its secret, the token that must come with it and when it expires."""

    secret: str = field(repr=False)
    token: str = field(repr=False)
    expires_at: float | None = None


def _random_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


class EmulatorState:
    """Everything the emulated ENS account holds; persisted when given a store."""

    def __init__(
        self,
        *,
        keys: Mapping[str, str],
        step_seconds: float = 2.0,
        sts_keys: Mapping[str, StsCredential] | None = None,
        store: SqliteStore | None = None,
        clock: Callable[[], float] = time.time,
        accounts: Mapping[str, str] | None = None,
        default_account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> None:
        self.keys = dict(keys)
        # Access key id -> account id, for keys that do not act for the default account.
        self.accounts: dict[str, str] = dict(accounts or {})
        self.default_account_id = default_account_id
        self.clock = clock
        self.store = store
        self.step_seconds = step_seconds
        self.sts_duration_override: float | None = None
        # Seconds a new image stays invisible to DescribeSelfImages (a cloud whose listings lag).
        self.listing_lag = 0.0
        self.sts: dict[str, StsCredential] = dict(sts_keys or {})
        self.images: dict[str, Image] = {}
        self.missing_buckets: set[str] = set()
        self.missing_objects: set[tuple[str, str]] = set()
        self._seq = 0
        self._nonces: dict[tuple[str, str], float] = {}
        if store is not None:
            self._load(store)

    # --- persistence -----------------------------------------------------------------------
    def _load(self, store: SqliteStore) -> None:
        settings = store.load_settings()
        self.default_account_id = str(settings.get("defaultAccountId", self.default_account_id))
        for key_id, entry in settings.get("accountKeys", {}).items():
            self.keys.setdefault(key_id, entry["secret"])
            self.accounts.setdefault(key_id, entry["accountId"])
        for image in store.load_images():
            image.owner = image.owner or self.default_account_id
            self.images[image.image_id] = image
            self._seq = max(self._seq, image.seq)
        self.step_seconds = float(settings.get("stepSeconds", self.step_seconds))
        override = settings.get("stsDurationSeconds")
        self.sts_duration_override = None if override is None else float(override)
        self.listing_lag = float(settings.get("listingLagSeconds", self.listing_lag))
        self.missing_buckets = set(settings.get("missingBuckets", []))
        self.missing_objects = {(b, o) for b, o in settings.get("missingObjects", [])}
        for key_id, cred in settings.get("sts", {}).items():
            self.sts.setdefault(key_id, StsCredential(**cred))

    def save(self, image: Image) -> None:
        """Write one changed image through to the store."""
        if self.store is not None:
            self.store.put_image(image)

    def _save_settings(self) -> None:
        if self.store is None:
            return
        self.store.put_setting("stepSeconds", self.step_seconds)
        self.store.put_setting("stsDurationSeconds", self.sts_duration_override)
        self.store.put_setting("listingLagSeconds", self.listing_lag)
        self.store.put_setting("missingBuckets", sorted(self.missing_buckets))
        self.store.put_setting("missingObjects", sorted(self.missing_objects))
        self.store.put_setting("defaultAccountId", self.default_account_id)
        self.store.put_setting(
            "accountKeys",
            {
                key_id: {"secret": self.keys[key_id], "accountId": account_id}
                for key_id, account_id in self.accounts.items()
                if key_id in self.keys
            },
        )
        self.store.put_setting(
            "sts",
            {
                key_id: {"secret": c.secret, "token": c.token, "expires_at": c.expires_at}
                for key_id, c in self.sts.items()
            },
        )

    def close(self) -> None:
        """Release the store, if any."""
        if self.store is not None:
            self.store.close()

    # --- time and settings -----------------------------------------------------------------
    def now(self) -> float:
        """Wall-clock seconds, from the injectable clock."""
        return self.clock()

    def set_step_seconds(self, step_seconds: float) -> None:
        """Step length of transitions that start from now on."""
        self.step_seconds = step_seconds
        self._save_settings()

    def set_sts_duration(self, seconds: float | None) -> None:
        """Lifetime of STS keys issued from now on; None honours the caller's DurationSeconds."""
        self.sts_duration_override = seconds
        self._save_settings()

    def set_listing_lag(self, seconds: float) -> None:
        """How long images created from now on (and those younger than that) stay unlisted."""
        self.listing_lag = seconds
        self._save_settings()

    # --- accounts --------------------------------------------------------------------------
    def account_of(self, key_id: str | None) -> str:
        """The account a key acts for: its mapped account, else the default one (STS keys too)."""
        if key_id is None:
            return self.default_account_id
        return self.accounts.get(key_id, self.default_account_id)

    def add_account_key(self, key_id: str, secret: str, account_id: str) -> None:
        """Accept a long-term key that acts for ``account_id`` (replaces a key of the same id)."""
        self.keys[key_id] = secret
        self.accounts[key_id] = account_id
        self._save_settings()

    def set_default_account(self, account_id: str) -> None:
        """The account unmapped keys act for from now on; existing images keep their owner."""
        self.default_account_id = account_id
        self._save_settings()

    # --- images ----------------------------------------------------------------------------
    def listed_images(self, account: str | None = None) -> list[Image]:
        """Live images DescribeSelfImages shows: older than the listing lag, newest first.

        With ``account``, only the images it owns or that are shared with it.
        """
        horizon = self.now() - self.listing_lag
        return [
            image
            for image in self.live_images()
            if image.created_at <= horizon and (account is None or image.visible_to(account))
        ]

    def live_images(self) -> list[Image]:
        """Images not deleted, newest first."""
        live = [image for image in self.images.values() if image.deleted_at is None]
        return sorted(live, key=lambda image: image.seq, reverse=True)

    def get_live(self, image_id: str) -> Image:
        """The live image with this id, or ImageId.NotFound."""
        image = self.images.get(image_id)
        if image is None or image.deleted_at is not None:
            raise image_not_found(image_id)
        return image

    def find_visible(self, image_id: str, account: str) -> Image | None:
        """The live image with this id if ``account`` owns it or it is shared with it."""
        image = self.images.get(image_id)
        if image is None or image.deleted_at is not None or not image.visible_to(account):
            return None
        return image

    def get_visible(self, image_id: str, account: str) -> Image:
        """Like ``find_visible``, but ImageId.NotFound when the account cannot see the image."""
        image = self.find_visible(image_id, account)
        if image is None:
            raise image_not_found(image_id)
        return image

    def get_owned(self, image_id: str, account: str) -> Image:
        """The account's own live image: ImageId.NotFound if unseen, NoPermission if only shared."""
        image = self.get_visible(image_id, account)
        if image.owner != account:
            raise no_permission()
        return image

    def create_image(
        self, image_name: str, disks: list[DiskSource], owner: str | None = None, **attributes: str
    ) -> Image:
        """Start importing a new image for ``owner`` (default account if None); it begins in Creating.

        ``attributes`` are any of IMPORT_ATTRIBUTES, as text.
        """
        now = self.now()
        self._seq += 1
        image = Image(
            image_id=_random_id("m-"),
            image_name=image_name,
            created_at=now,
            seq=self._seq,
            step_seconds=self.step_seconds,
            phase_since=now,
            disks=disks,
            owner=owner or self.default_account_id,
        )
        for name, value in attributes.items():
            if name not in IMPORT_ATTRIBUTES:
                raise TypeError(f"{name} is not an import attribute of an image")
            setattr(image, name, value)
        self._apply_missing(image, now)
        self.images[image.image_id] = image
        self.save(image)
        return image

    def delete_image(self, image: Image) -> None:
        """Delete: the image disappears from the API, for the accounts it was shared with too.

        It stays visible to the admin API, its share list kept as it was.
        """
        image.deleted_at = self.now()
        self.save(image)

    def change_sharing(self, image: Image, add: list[str], remove: list[str]) -> None:
        """Share ``image`` with the ``add`` accounts (again is a no-op), then stop sharing with ``remove``."""
        for account in add:
            if account not in image.shared_with:
                image.shared_with.append(account)
        image.shared_with = [account for account in image.shared_with if account not in remove]
        self.save(image)

    # --- declared-missing OSS objects ------------------------------------------------------
    def declare_missing(self, buckets: list[str], objects: list[tuple[str, str]]) -> None:
        """Make these buckets/objects absent; imports and exports that need them fail."""
        self.missing_buckets.update(buckets)
        self.missing_objects.update(objects)
        now = self.now()
        for image in self.live_images():
            self._apply_missing(image, now)
            if image.export_state(now) == "Exporting" and image.export_bucket in self.missing_buckets:
                image.export_failed = True
            self.save(image)
        self._save_settings()

    def clear_missing(self) -> None:
        """Every bucket and object exists again (images that already failed stay failed)."""
        self.missing_buckets.clear()
        self.missing_objects.clear()
        self._save_settings()

    def _apply_missing(self, image: Image, now: float) -> None:
        if any(disk.bucket in self.missing_buckets for disk in image.disks):
            image.fail_later(UPLOAD_FAILED, now)
        elif any((disk.bucket, disk.object) in self.missing_objects for disk in image.disks):
            image.fail_later(PACK_FAILED, now)

    # --- credentials -----------------------------------------------------------------------
    def issue_sts(self, duration: float) -> tuple[str, StsCredential]:
        """A fresh temporary key valid for ``duration`` seconds (or the configured override)."""
        lifetime = self.sts_duration_override if self.sts_duration_override is not None else duration
        key_id = _random_id("STS.", 20)
        cred = StsCredential(
            secret=secrets.token_urlsafe(24),
            token=secrets.token_urlsafe(48),
            expires_at=self.now() + lifetime,
        )
        self.sts[key_id] = cred
        self._save_settings()
        return key_id, cred

    def remember_nonce(self, key_id: str, nonce: str, now: float) -> bool:
        """Record a nonce; False when it was already used within the replay window."""
        # Entries are in arrival order, so the expired ones are at the front: amortised O(1).
        horizon = now - 2 * TIMESTAMP_TOLERANCE
        while self._nonces:
            oldest, seen_at = next(iter(self._nonces.items()))
            if seen_at >= horizon:
                break
            del self._nonces[oldest]
        if (key_id, nonce) in self._nonces:
            return False
        self._nonces[(key_id, nonce)] = now
        return True

    # --- reset -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget images and missing objects; keys, issued tokens and settings stay."""
        self.images.clear()
        self.missing_buckets.clear()
        self.missing_objects.clear()
        self._nonces.clear()
        if self.store is not None:
            self.store.clear_images()
        self._save_settings()
