"""Column buffers that collect claims and referrals in index space before the final write."""

from __future__ import annotations

import numpy as np

# name -> (dtype, default)
CLAIM_COLS: dict[str, tuple[type, int | bool]] = {
    "pat": (np.int32, -1),      # patient index (the person settled for)
    "card": (np.int32, -1),     # card index; -1 = decide from the family-sharing rules at the end
    "holder": (np.int32, -1),   # whose card to use when card == -1 (-1 = the patient)
    "ctype": (np.int8, 0),      # 0 outpatient, 1 inpatient, 2 pharmacy
    "inst": (np.int32, -1),
    "pharm": (np.int32, -1),
    "doc": (np.int32, -1),
    "dept": (np.int16, -1),
    "t0": (np.int64, 0),
    "t1": (np.int64, -1),
    "diag": (np.int32, -1),
    "total": (np.int64, 0),     # cents
    "fund": (np.int64, 0),      # cents
    "ref": (np.int64, -1),      # referral uid
    "term": (np.int32, -1),     # terminal index; -1 = pick one of the provider's terminals
    "fraud": (np.int32, -1),    # planted instance index; -1 = normal
    "prot": (np.bool_, False),  # protected normal row (cohorts, trips): never removed by cleanup
    "prof": (np.int8, 0),       # item profile: 0 normal, 1 burst (non-medical), 2 dialysis, 3 chemo, 4 rehab,
    #                             5 one rehab session of two a day
    "lk": (np.bool_, False),    # look-alike row (variants): kept inside a stay / near a far claim by design
}
CTYPE_NAMES = ("outpatient", "inpatient", "pharmacy")

REF_COLS: dict[str, tuple[type, int | bool]] = {
    "pat": (np.int32, -1),
    "from_inst": (np.int32, -1),
    "from_doc": (np.int32, -1),
    "to_inst": (np.int32, -1),
    "t": (np.int64, 0),
    "ooa": (np.bool_, False),
    "reason": (np.int8, 0),
    "fraud": (np.int32, -1),
}


class Buffer:
    """Append-only columnar buffer; each ``add`` returns the uids (row numbers) of new rows."""

    def __init__(self, cols: dict[str, tuple[type, int | bool]]):
        self.cols = cols
        self.parts: list[dict[str, np.ndarray]] = []
        self.n = 0
        self._data: dict[str, np.ndarray] | None = None

    def add(self, **values) -> np.ndarray:
        unknown = set(values) - set(self.cols)
        if unknown:
            raise KeyError(f"unknown columns {sorted(unknown)}")
        lens = [len(v) for v in values.values() if np.ndim(v) > 0]
        n = max(lens) if lens else 1
        part: dict[str, np.ndarray] = {}
        for name, (dtype, default) in self.cols.items():
            v = values.get(name, default)
            arr = np.asarray(v, dtype=dtype)
            if arr.ndim == 0:
                arr = np.full(n, arr, dtype=dtype)
            elif arr.size != n:
                raise ValueError(f"column {name}: {arr.size} values for {n} rows")
            part[name] = arr
        self.parts.append(part)
        uids = np.arange(self.n, self.n + n, dtype=np.int64)
        self.n += n
        self._data = None
        return uids

    def data(self) -> dict[str, np.ndarray]:
        """All rows, concatenated (cached until the next ``add``)."""
        if self._data is None:
            if not self.parts:
                self._data = {k: np.empty(0, dtype=d) for k, (d, _) in self.cols.items()}
            else:
                self._data = {k: np.concatenate([p[k] for p in self.parts]) for k in self.cols}
                self.parts = [self._data]
        return self._data
