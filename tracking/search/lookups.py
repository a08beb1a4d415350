"""LIKE and ILIKE with MLflow's meaning on both databases.

MLflow's LIKE is case-sensitive and ILIKE is not. SQLite's LIKE ignores case, so there LIKE
becomes GLOB (always case-sensitive) with the pattern translated; ILIKE compares lower-cased.
"""

from __future__ import annotations

from django.db.models import CharField, Lookup, TextField


def like_to_glob(pattern: str) -> str:
    out = []
    for char in pattern:
        if char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)


class MlflowLike(Lookup):
    lookup_name = "mlflow_like"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} LIKE {rhs}", [*lhs_params, *rhs_params]

    def as_sqlite(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} GLOB {rhs}", [*lhs_params, *[like_to_glob(p) for p in rhs_params]]


class MlflowILike(Lookup):
    lookup_name = "mlflow_ilike"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"LOWER({lhs}) LIKE LOWER({rhs})", [*lhs_params, *rhs_params]

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]


for field in (CharField, TextField):
    field.register_lookup(MlflowLike)
    field.register_lookup(MlflowILike)
