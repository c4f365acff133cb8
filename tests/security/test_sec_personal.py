"""Confidentiality and injection safety (#16 attacks 3, 8, 9): no clear personal data in anything
written, the demo key refused outside the demo, no Cypher built from values."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pandas as pd
import pytest

import graphkit
from graphkit.errors import GraphkitError
from loaders import load_bundle

from conftest import tiny_tables, write_bundle

ROOT = Path(__file__).resolve().parents[2]


def test_demo_key_refused_outside_the_demo(tmp_path, monkeypatch):
    monkeypatch.delenv("GRAPHKIT_ALLOW_DEMO_KEY", raising=False)
    monkeypatch.delenv("GRAPHKIT_PSEUDO_KEY", raising=False)
    monkeypatch.delenv("GRAPHKIT_PSEUDO_KEY_FILE", raising=False)
    bundle = write_bundle(tmp_path / "real", tiny_tables())
    with pytest.raises(GraphkitError, match="GRAPHKIT_PSEUDO_KEY"):
        load_bundle(bundle, tmp_path / "store")
    assert not (tmp_path / "store").exists()
    from graphkit.cli import main

    assert main(["load", str(bundle), "--store", str(tmp_path / "store")]) == 1
    monkeypatch.setenv("GRAPHKIT_PSEUDO_KEY", "5b2e9c41d0a7f3e8" * 2)
    assert main(["load", str(bundle), "--store", str(tmp_path / "store")]) == 0
    # a generated demo bundle (it carries graphkit's truth.json) may use the demo key
    monkeypatch.delenv("GRAPHKIT_PSEUDO_KEY")
    from graphkit.demo import generate_city

    generate_city(tmp_path / "demo", patients=1000, seed=1)
    assert load_bundle(tmp_path / "demo", tmp_path / "demo-store").rows["patients"] == 1000


def test_demo_key_needs_the_generators_seal_not_a_marker(tmp_path, monkeypatch):
    """A truth.json copied next to real tables, or a demo bundle with one table edited or added,
    does not unlock the public demo key; quirks applied by the generator's own writer keep the seal."""
    import shutil

    from graphkit.demo import generate_city
    from graphkit.demo.quirks import apply_quirks

    for v in ("GRAPHKIT_ALLOW_DEMO_KEY", "GRAPHKIT_PSEUDO_KEY", "GRAPHKIT_PSEUDO_KEY_FILE"):
        monkeypatch.delenv(v, raising=False)
    demo = tmp_path / "demo"
    generate_city(demo, patients=1000, seed=2, months=2)
    # 1. the old attack: graphkit's truth.json copied next to a real bundle
    real = write_bundle(tmp_path / "real", tiny_tables())
    shutil.copy(demo / "truth.json", real / "truth.json")
    with pytest.raises(GraphkitError, match="demo key does not serve this bundle") as e:
        load_bundle(real, tmp_path / "s1")
    assert "not written by the generator" in str(e.value) or "missing" in str(e.value)
    assert not (tmp_path / "s1").exists()
    # 2. the demo's own tables with one value changed
    edited = tmp_path / "edited"
    shutil.copytree(demo, edited)
    pats = pd.read_parquet(edited / "patients.parquet")
    pats.loc[0, "name"] = "王某某"
    pats.to_parquet(edited / "patients.parquet", index=False)
    with pytest.raises(GraphkitError, match="patients.parquet: 内容与生成时不同"):
        load_bundle(edited, tmp_path / "s2")
    # 3. a table the generator did not write
    extra = tmp_path / "extra"
    shutil.copytree(demo, extra)
    (extra / "referrals.parquet").rename(extra / "referrals.csv")
    with pytest.raises(GraphkitError, match="demo key does not serve"):
        load_bundle(extra, tmp_path / "s3")
    # a truth.json without any seal (a bundle from before the seal, or hand-made) is refused too
    unsealed = tmp_path / "unsealed"
    shutil.copytree(demo, unsealed)
    t = json.loads((unsealed / "truth.json").read_text("utf-8"))
    del t["seal"]
    (unsealed / "truth.json").write_text(json.dumps(t), encoding="utf-8")
    with pytest.raises(GraphkitError, match="no seal of the generator"):
        load_bundle(unsealed, tmp_path / "s4")
    # the generator's quirk writer re-seals what it rewrites
    apply_quirks(demo, ["dates_only", "ids_numeric"])
    assert load_bundle(demo, tmp_path / "s5").rows["patients"] == 1000


def _clear_values(bundle: Path) -> dict[str, set[str]]:
    pats = pd.read_parquet(bundle / "patients.parquet")
    docs = pd.read_parquet(bundle / "doctors.parquet")
    contacts = pd.read_parquet(bundle / "contacts.parquet")
    doctor_names = set(docs["name"].dropna())
    out = {
        # names shorter than 3 characters also occur inside institution names and ordinary text
        "name": {n for n in pats["name"].dropna() if len(n) >= 3 and n not in doctor_names},
        "id_number": set(pats["id_number"].dropna()),
    }
    for kind in ("phone", "address", "bank_account", "device"):
        out[kind] = set(contacts.loc[contacts["kind"] == kind, "value"].dropna())
    return out


def test_no_clear_personal_data_in_anything_written(tmp_path):
    from graphkit.demo import generate_city
    from graphkit.dossier import write_dossier

    bundle = tmp_path / "bundle"
    generate_city(bundle, patients=1500, seed=5)
    clear = _clear_values(bundle)
    assert all(len(v) > 10 for v in clear.values())
    load_bundle(bundle, tmp_path / "store")
    st = graphkit.open_store(tmp_path / "store")
    res = graphkit.scan(st)
    graphkit.write_scan(res, tmp_path / "out")
    for i, f in enumerate(res.findings[:5]):
        write_dossier(st, [f], tmp_path / "dossiers" / str(i), parameters=res.parameters, pdf=False)
    # a lenient load of a damaged copy: its quarantine must not hold clear values either
    bad = tmp_path / "bad"
    bad.mkdir()
    for p in bundle.glob("*.parquet"):
        df = pd.read_parquet(p)
        if p.stem == "patients":
            df.loc[df.index[:5], "sex"] = "X"
        df.to_parquet(bad / p.name)
    load_bundle(bad, tmp_path / "store2", lenient=True)
    q = pd.read_csv(next((tmp_path / "store2" / "quarantine").rglob("patients.csv")), dtype=str)
    assert len(q) >= 5 and q["birth_date"].dropna().str.startswith("pz:").all()  # birth dates as tokens too
    written = [p for d in ("store", "store2", "out", "dossiers") for p in (tmp_path / d).rglob("*") if p.is_file()]
    assert len(written) > 20
    texts = []
    for p in written:
        if p.suffix == ".parquet":
            texts.append(pd.read_parquet(p).astype(str).to_csv(index=False))
        texts.append(p.read_bytes().decode("utf-8", errors="ignore"))
    blob = "\n".join(texts)
    leaks = {k: sorted(v for v in vals if v in blob)[:3] for k, vals in clear.items()}
    assert not any(leaks.values()), leaks


FORMATTING = (ast.JoinedStr, ast.BinOp)


def _formats_values(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "replace", "join"):
        return True
    return False


def test_no_cypher_built_by_string_formatting():
    """Every query handed to the driver is a file's text or a constant literal — never formatted."""
    offenders = []
    for path in list((ROOT / "graphkit").rglob("*.py")) + list((ROOT / "loaders").rglob("*.py")) + list((ROOT / "bench").rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("run", "execute_query"):
                if node.args and _formats_values(node.args[0]):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_the_check_catches_formatted_cypher():
    bad = ast.parse("session.run(f\"MATCH (n {{id: '{x}'}}) RETURN n\")\ntx.run('MATCH (n) WHERE n.id = ' + x)")
    calls = [n for n in ast.walk(bad) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "run"]
    assert len(calls) == 2 and all(_formats_values(c.args[0]) for c in calls)


def test_only_one_package_imports_the_driver():
    importers = set()
    for path in list((ROOT / "graphkit").rglob("*.py")) + list((ROOT / "loaders").rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n == "neo4j" or n.startswith("neo4j.") for n in names):
                importers.add(path.relative_to(ROOT).parts[:2])
    assert importers <= {("graphkit", "neo4jstore")}, importers


@pytest.mark.parametrize("weak", ["a", "bureau-key-2024", "0" * 64, "abcd" * 7])
def test_weak_keys_are_refused(weak, tmp_path, monkeypatch):
    """#16 attack 8: key `a` (or any passphrase, or too few hex digits) was accepted and could
    be recovered from the public key_id at once."""
    monkeypatch.delenv("GRAPHKIT_ALLOW_DEMO_KEY", raising=False)
    monkeypatch.delenv("GRAPHKIT_PSEUDO_KEY_FILE", raising=False)
    monkeypatch.setenv("GRAPHKIT_PSEUDO_KEY", weak)
    from graphkit.pseudo import resolve_key

    with pytest.raises(GraphkitError, match="too weak"):
        resolve_key(allow_demo=False)


def test_key_file_forms(tmp_path, monkeypatch):
    """A hex key file (with its newline) and a binary key file of ≥ 16 random bytes are accepted;
    a short or text passphrase file is refused."""
    import os as _os

    from graphkit.pseudo import resolve_key

    monkeypatch.delenv("GRAPHKIT_PSEUDO_KEY", raising=False)
    f = tmp_path / "key"
    f.write_bytes(b"9e107d9d372bb6826bd81d3542a419d6\n")
    monkeypatch.setenv("GRAPHKIT_PSEUDO_KEY_FILE", str(f))
    assert resolve_key(allow_demo=False) == b"9e107d9d372bb6826bd81d3542a419d6"
    rnd = _os.urandom(32)
    while len(set(rnd)) < 8:  # pragma: no cover - 32 random bytes have ~30 distinct values
        rnd = _os.urandom(32)
    f.write_bytes(rnd)
    assert resolve_key(allow_demo=False) == rnd
    f.write_bytes(b"our bureau password 2024\n")
    with pytest.raises(GraphkitError, match="too weak"):
        resolve_key(allow_demo=False)


def test_extra_personal_columns_are_pseudonymised(tmp_path):
    """#16 attack 9: an extra `mobile` column on patients (and a `note` on contacts) was stored in
    clear. Personal tables are default-deny: a column the spec does not name is tokenised."""
    from graphkit.store.embedded import EmbeddedStore

    t = tiny_tables()
    for i, r in enumerate(t["patients"]):
        r["mobile"] = f"1390000{i:04d}"
    for r in t["contacts"]:
        r["note"] = "home phone of " + r["patient_id"]
    bundle = write_bundle(tmp_path / "b", t)
    load_bundle(bundle, tmp_path / "s")
    st = EmbeddedStore(tmp_path / "s")
    mobiles = st.table("patients")["mobile"].tolist()
    assert all(str(m).startswith("pz:") for m in mobiles)
    assert not any(r["mobile"] in mobiles for r in t["patients"])
    assert st.table("contacts")["note"].str.startswith("pz:").all()
    assert st.table("patients")["patient_id"].tolist() == [r["patient_id"] for r in t["patients"]]
    # explicit opt-in keeps them clear, like the spec's personal fields
    load_bundle(bundle, tmp_path / "clear", pseudonymise=False)
    assert EmbeddedStore(tmp_path / "clear").table("patients")["mobile"].tolist() == [r["mobile"] for r in t["patients"]]


def test_mapping_declares_extra_columns_non_personal(tmp_path):
    """#16 item 6: an extra column is personal unless the mapping file declares it not — the
    declared one stays clear (and the manifest says so), the others are still tokenised; the
    contract's own columns and tables without personal data cannot be declared."""
    from graphkit.errors import BundleError
    from graphkit.store.embedded import EmbeddedStore
    from loaders.bundle import Mapping

    t = tiny_tables()
    for i, r in enumerate(t["patients"]):
        r["mobile"] = f"1390000{i:04d}"
        r["plan_code"] = f"PLAN-{i % 3}"
    bundle = write_bundle(tmp_path / "b", t)
    mapping = tmp_path / "map.toml"
    mapping.write_text('[not_personal]\npatients = ["plan_code"]\n', "utf-8")
    load_bundle(bundle, tmp_path / "s", mapping=mapping)
    st = EmbeddedStore(tmp_path / "s")
    pats = st.table("patients")
    assert pats["plan_code"].tolist() == [r["plan_code"] for r in t["patients"]]
    assert pats["mobile"].str.startswith("pz:").all()
    assert pats["name"].str.startswith("pz:").all()
    assert st.manifest["loads"][-1]["not_personal"] == {"patients": ["plan_code"]}
    # without the declaration the same column is tokenised (default-deny)
    load_bundle(bundle, tmp_path / "s2")
    assert EmbeddedStore(tmp_path / "s2").table("patients")["plan_code"].str.startswith("pz:").all()
    for bad, what in (({"patients": ["name"]}, "contract's own"), ({"patients": ["sex"]}, "contract's own"),
                      ({"claims": ["note"]}, "only"), ({"patients": "plan_code"}, "list")):
        with pytest.raises(BundleError, match=what):
            Mapping.from_dict({"not_personal": bad})
    mapping.write_text('[not_personal]\npatients = ["id_number"]\n', "utf-8")
    with pytest.raises(BundleError, match="id_number"):  # refused before anything is written
        load_bundle(bundle, tmp_path / "s3", mapping=mapping)
    assert not (tmp_path / "s3").exists()


def test_dossier_of_a_clear_store_is_a_clear_export_with_a_truthful_manifest(tmp_path, guard, monkeypatch):
    """#16 attack 3: from a store loaded with --keep-personal, an "internal" dossier showed clear
    names and ID numbers while its manifest said ``clear_data: false``, and no role was asked. Now
    the profile applies to the clear values (masked, or withheld where it says pseudonymised), the
    manifest counts them, and the export goes through the guard's clear-data check."""
    from graphkit.dossier import write_dossier
    from graphkit.findings import Entity, Finding
    from graphkit.store.embedded import EmbeddedStore

    t = tiny_tables()
    bundle = write_bundle(tmp_path / "b", t)
    load_bundle(bundle, tmp_path / "s", pseudonymise=False)
    st = EmbeddedStore(tmp_path / "s")
    person = t["patients"][0]
    claim = next(c for c in t["claims"] if c["patient_id"] == person["patient_id"])
    f = Finding.create("shared_card", key=["K"], claims=[claim["claim_id"]], score=0.9, amount_at_risk=10.0,
                       entities=[Entity("patient", person["patient_id"], "user")])
    m = write_dossier(st, [f], tmp_path / "d", pdf=False)  # profile "internal": names and ID numbers masked
    assert m["clear_data"] is True and m["redaction_profile"] == "internal"
    text = "".join(p.read_text("utf-8", errors="replace") for p in (tmp_path / "d").rglob("*") if p.is_file()
                   and p.suffix in (".json", ".csv", ".md", ".html"))
    assert person["id_number"] not in text and person["name"] not in text
    assert person["id_number"][:3] + "*" in text  # the masked form the profile asks for
    # without a guard the same export is refused before anything is written
    monkeypatch.setenv("GRAPHKIT_GUARD", "")
    with pytest.raises(GraphkitError, match="guard"):
        write_dossier(st, [f], tmp_path / "d2", pdf=False)
    assert not (tmp_path / "d2").exists()


def test_validation_reports_mask_personal_values(tmp_path):
    """#16 attack 9: `validate` and `load` printed the personal values their issues quote (a
    duplicated phone contact, a birth date in the future) and `validate --report` wrote them to
    CSV. Printed and written reports mask them; the issues themselves keep them (quarantine)."""
    from graphkit.cli import main
    from loaders import validate_bundle

    t = tiny_tables()
    t["contacts"].append(dict(t["contacts"][2]))  # PT0003's phone twice: duplicate key
    t["patients"][3]["birth_date"] = "2099-12-31"
    bundle = write_bundle(tmp_path / "b", t)
    report = validate_bundle(bundle)
    assert {"duplicate_key", "birth_in_future"} <= set(report.issues["rule"])
    assert "13800000001" in set(report.issues["value"].astype(str).str.split("|").explode())  # kept for quarantine
    text = report.format(limit=100)
    assert "13800000001" not in text and "2099-12-31" not in text and "1*********1" in text
    assert "PT0003|phone|" in text  # the rest of the key still finds the row
    csv_path = tmp_path / "issues.csv"
    report.to_csv(csv_path)
    written = csv_path.read_text("utf-8")
    assert "13800000001" not in written and "2099-12-31" not in written and "2********1" in written
    assert main(["validate", str(bundle), "--report", str(tmp_path / "cli.csv")]) == 1
    assert "13800000001" not in (tmp_path / "cli.csv").read_text("utf-8")


def test_birth_dates_are_kept_to_the_month(tmp_path):
    """#16: an exact birth date with sex and region singles a person out (and leaves 3 digits of
    the ID number to guess); a pseudonymised store keeps the month, a clear load the day."""
    from graphkit.store.embedded import EmbeddedStore

    t = tiny_tables()
    days = {"PT0001": "1980-01-17", "PT0002": "1950-05-05", "PT0003": "2000-12-31"}
    for r in t["patients"]:
        r["birth_date"] = days.get(r["patient_id"], "")
    bundle = write_bundle(tmp_path / "b", t)
    load_bundle(bundle, tmp_path / "s")
    st = EmbeddedStore(tmp_path / "s")
    got = st.table("patients", ["patient_id", "birth_date"]).set_index("patient_id")["birth_date"]
    assert got.dropna().dt.strftime("%Y-%m-%d").to_dict() == {
        "PT0001": "1980-01-01", "PT0002": "1950-05-01", "PT0003": "2000-12-01"}
    assert pd.isna(got["PT0004"])
    assert st.manifest["data_profile"]["birth_dates"] == {"present": True, "patients": 3, "precision": "month"}
    load_bundle(bundle, tmp_path / "clear", pseudonymise=False)
    clear = EmbeddedStore(tmp_path / "clear")
    assert clear.table("patients")["birth_date"].dropna().dt.strftime("%Y-%m-%d").tolist() == list(days.values())
    assert clear.manifest["data_profile"]["birth_dates"]["precision"] == "day"
