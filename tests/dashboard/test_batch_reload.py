"""A priced Batch lot survives a browser reload: the store that keeps it (bounded, least
recently used forgotten first) and the page that puts its id in the URL, finds it again in a
new session, says so when it is gone, and forgets it on Clear."""

from __future__ import annotations

from dashboard import batch_store
from dashboard.batch_store import PARAM, LotStore
from tests.dashboard.conftest import app_env, page_text
from tests.dashboard.test_batch import priced, result_frame, upload, with_fake


class _Lot:  # the store never looks inside a lot
    def __init__(self, name: str) -> None:
        self.name = name


def test_the_store_keeps_the_last_lots_and_forgets_the_oldest() -> None:
    store = LotStore(limit=2)
    a, b, c = (_Lot(n) for n in "abc")
    ids = [store.put(a), store.put(b)]
    assert len(set(ids)) == 2 and all(len(i) >= 16 for i in ids)  # random, not guessable
    assert store.get(ids[0]) is a  # a is now the one used last…
    third = store.put(c)
    assert ids[1] not in store and store.get(ids[1]) is None  # …so b went first
    assert store.get(ids[0]) is a and store.get(third) is c and len(store) == 2
    store.drop(ids[0])
    store.drop("no such id")
    store.drop(None)
    assert store.get(ids[0]) is None and len(store) == 1
    assert store.get(None) is None and store.get("") is None


def test_the_limit_comes_from_the_settings(apptest) -> None:  # noqa: ARG001 - clears caches
    with app_env("http://127.0.0.1:9", batch_lots_kept="3"):
        assert batch_store.lot_store().limit == 3
    with app_env("http://127.0.0.1:9"):
        assert batch_store.lot_store().limit == 20


def _priced(apptest, name: str = "raw_listings.csv"):  # noqa: ANN001, ANN202
    at = upload(apptest("batch_quotes").run(), name)
    at.button(key="batch_price").click().run()
    assert not at.exception and len(result_frame(at)) > 0
    return at


def test_a_reload_shows_the_lot_again_without_pricing_it_again(apptest) -> None:
    fake, url = with_fake(priced)
    with app_env(url):
        at = _priced(apptest)
        lot_id = at.query_params[PARAM]
        assert lot_id in batch_store.lot_store()
        before = len(fake.posts)
        fresh = apptest("batch_quotes")  # a reload: a new session, the same URL
        fresh.query_params[PARAM] = lot_id
        fresh.run()
        assert not fresh.exception and not fresh.error
        assert "Priced lot: raw_listings.csv" in [s.value for s in fresh.subheader]
        assert result_frame(fresh)["name"].tolist() == result_frame(at)["name"].tolist()
        assert {"Download CSV", "Download Excel"} <= {b.label for b in fresh.download_button}
        assert len(fake.posts) == before  # shown from the store, not priced again
        assert fresh.query_params[PARAM] == lot_id

        fresh.button(key="batch_clear").click().run()  # Clear: gone from the URL and store
        assert PARAM not in fresh.query_params
        assert lot_id not in batch_store.lot_store()
        assert "Upload a file to price" in fresh.info[0].value
        again = apptest("batch_quotes")
        again.query_params[PARAM] = lot_id
        again.run()
        assert not again.exception
        assert "no longer kept" in again.info[0].value
        assert PARAM not in again.query_params
        assert not any(s.value.startswith("Priced lot") for s in again.subheader)


def test_an_unknown_or_forgotten_lot_is_said_plainly(apptest) -> None:
    with app_env(with_fake(priced)[1]):
        at = apptest("batch_quotes")
        at.query_params[PARAM] = "not-a-lot-we-keep"
        at.run()
        assert not at.exception
        assert "The priced lot in this link is no longer kept" in page_text(at)
        assert "(20 at most)" in page_text(at)
        assert PARAM not in at.query_params


def test_a_new_lot_replaces_the_sessions_last_one_in_the_store(apptest) -> None:
    with app_env(with_fake(priced)[1]):
        at = _priced(apptest)
        first = at.query_params[PARAM]
        at.button(key="batch_clear").click().run()
        at.button(key="batch_price").click().run()  # the same file again, a new lot
        second = at.query_params[PARAM]
        assert second != first and second in batch_store.lot_store()
        assert first not in batch_store.lot_store()
        upload(at, "identity_only_cars.csv")
        at.button(key="batch_price").click().run()
        third = at.query_params[PARAM]
        assert third != second and second not in batch_store.lot_store()
        assert len(batch_store.lot_store()) == 1


def test_back_from_another_page_the_url_names_the_lot_again(apptest) -> None:
    with app_env(with_fake(priced)[1]):
        at = apptest("app").run()
        at.switch_page("views/batch_quotes.py").run()
        upload(at, "raw_listings.csv")
        at.button(key="batch_price").click().run()
        lot_id = at.query_params[PARAM]
        at.switch_page("views/quote.py").run()
        at.query_params.pop(PARAM, None)  # the browser drops the page's query on a switch
        at.switch_page("views/batch_quotes.py").run()
        assert not at.exception
        assert at.query_params[PARAM] == lot_id
        assert "Priced lot: raw_listings.csv" in [s.value for s in at.subheader]


def test_a_lot_pushed_out_of_a_full_store_is_said_to_be_gone(apptest) -> None:
    with app_env(with_fake(priced)[1], batch_lots_kept="1"):
        first = _priced(apptest).query_params[PARAM]
        _priced(apptest, "identity_only_cars.csv")  # another session's lot fills the store
        fresh = apptest("batch_quotes")
        fresh.query_params[PARAM] = first
        fresh.run()
        assert "(1 at most)" in fresh.info[0].value
