"""One manager per image, one name per account: the verdict for an EnsImage that comes second."""

from __future__ import annotations

from typing import Any

from ens_image_operator.controllers.ownership import Claim, Claims, claim_of, conflict


def _body(
    name: str,
    spec: dict[str, Any],
    status: dict[str, Any] | None = None,
    *,
    namespace: str = "a",
    created: str = "2026-12-01T10:00:00Z",
) -> dict[str, Any]:
    metadata = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{namespace}-{name}",
        "creationTimestamp": created,
    }
    return {"metadata": metadata, "spec": spec, "status": status or {}}


def _claims(*bodies: dict[str, Any]) -> Claims:
    claims = Claims()
    for body in bodies:
        claims.put(claim_of(body))
    return claims


async def _verdict(
    body: dict[str, Any],
    claims: Claims,
    scopes: dict[str, str] | None = None,
    *,
    ghosts: bool = False,
    adoption_namespaces: tuple[str, ...] | list[str] = (),
) -> Any:
    async def scope_of(claim: Claim) -> str:
        return (scopes or {}).get(claim.namespace, "operator")

    async def refresh(claim: Claim) -> Claim | None:
        return None if ghosts else claim  # a ghost: indexed, but gone from the API server

    return await conflict(
        claim_of(body),
        claims,
        scope_of,
        refresh,
        operator_scope="operator",
        adoption_namespaces=adoption_namespaces,
    )


EARLY, LATE = "2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z"


async def test_a_second_adopter_of_a_managed_image_is_stalled_naming_the_manager() -> None:
    first = _body("first", {"imageId": "m-1"}, {"imageId": "m-1"}, created=LATE)
    second = _body("second", {"imageId": "m-1"}, namespace="b", created=EARLY)
    verdict = await _verdict(second, _claims(first, second))
    assert (verdict.reason, verdict.message) == (
        "AlreadyManaged",
        "image m-1 is already managed by EnsImage a/first",
    )


async def test_the_manager_itself_is_not_stalled() -> None:
    first = _body("first", {"imageId": "m-1"}, {"imageId": "m-1"})
    second = _body("second", {"imageId": "m-1"}, namespace="b")
    assert await _verdict(first, _claims(first, second)) is None


async def test_between_two_new_adopters_the_older_one_manages() -> None:
    old = _body("old", {"imageId": "m-1"}, created=EARLY)
    new = _body("new", {"imageId": "m-1"}, created=LATE)
    claims = _claims(old, new)
    assert await _verdict(old, claims) is None
    assert (await _verdict(new, claims)).reason == "AlreadyManaged"


async def test_an_owner_that_is_gone_by_now_does_not_block() -> None:
    first = _body("first", {"imageId": "m-1"}, {"imageId": "m-1"})
    second = _body("second", {"imageId": "m-1"}, namespace="b")
    assert await _verdict(second, _claims(first, second), ghosts=True) is None


async def test_another_account_adopting_the_image_shared_with_it_is_fine() -> None:
    owner = _body("golden", {"source": {}}, {"imageId": "m-1"}, created=EARLY)
    consumer = _body("golden-here", {"imageId": "m-1"}, namespace="b", created=LATE)
    scopes = {"a": "builder-account", "b": "edge-account"}
    assert await _verdict(consumer, _claims(owner, consumer), scopes=scopes) is None


async def test_two_imports_under_one_name_in_one_account_the_second_is_stalled() -> None:
    first = _body("web", {"source": {}}, created=EARLY)
    second = _body("web", {"source": {}}, namespace="b", created=LATE)
    verdict = await _verdict(second, _claims(first, second))
    assert verdict.reason == "ImageNameInUse"
    assert "a/web" in verdict.message and "spec.imageName" in verdict.message


async def test_the_same_name_in_two_accounts_is_fine() -> None:
    first = _body("web", {"source": {}}, created=EARLY)
    second = _body("web", {"source": {}}, namespace="b", created=LATE)
    assert await _verdict(second, _claims(first, second), scopes={"a": "key-1", "b": "key-2"}) is None


async def test_an_import_that_recorded_its_image_keeps_its_name() -> None:
    first = _body("web", {"source": {}}, created=EARLY)
    second = _body("web", {"source": {}}, {"imageId": "m-2"}, namespace="b", created=LATE)
    assert await _verdict(second, _claims(first, second)) is None


async def test_adoption_with_the_operators_credentials_outside_the_allowed_namespaces_is_refused() -> None:
    body = _body("adopt", {"imageId": "m-1"}, namespace="team-x")
    verdict = await _verdict(body, _claims(body), adoption_namespaces=["platform"])
    assert verdict.reason == "AdoptionNotAllowed" and "team-x" in verdict.message


async def test_adoption_with_a_secret_of_its_own_is_allowed_anywhere() -> None:
    body = _body("adopt", {"imageId": "m-1"}, namespace="team-x")
    verdict = await _verdict(
        body, _claims(body), scopes={"team-x": "key-x"}, adoption_namespaces=["platform"]
    )
    assert verdict is None


def test_a_deleted_claim_leaves_both_tables() -> None:
    body = _body("first", {"imageId": "m-1"})
    claims = _claims(body)
    claims.remove(("a", "first"), "uid-a-first")
    assert claims.sharing_id(claim_of(_body("other", {"imageId": "m-1"}))) == []
