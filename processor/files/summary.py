"""What a run did, counted from its outputs: the end-of-run summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from processor.codec.dead_letter import DeadLetter
from processor.domain.model import Decision


@dataclass(slots=True)
class RunSummary:
    inputs: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    members: int = 0
    decisions: Counter[tuple[str, str]] = field(default_factory=Counter)
    corrections: int = 0
    requires_review: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    adjustments: Counter[tuple[str, str]] = field(default_factory=Counter)
    amounts: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def count_decisions(self, decisions: tuple[Decision, ...]) -> None:
        for decision in decisions:
            a = decision.assignment
            if a.revision:
                self.corrections += 1
            else:
                self.decisions[(str(a.outcome), str(a.reason))] += 1
                self.requires_review += a.requires_review
            for adj in decision.adjustments:
                key = (str(adj.kind), str(adj.basis) if adj.basis else "-")
                self.adjustments[key] += 1
                if adj.amount is not None:
                    self.amounts[key] = self.amounts.get(key, Decimal("0")) + adj.amount

    def count_dead_letter(self, letter: DeadLetter) -> None:
        self.dead_letters[letter.error_type] += 1

    @property
    def net_amount(self) -> Decimal:
        """Every amount: STARTs, what STOPs recover, REVERSALs."""
        return sum(self.amounts.values(), Decimal("0.00"))

    @property
    def recovered_amount(self) -> Decimal:
        """What STOPs took back (rapid disenrollments, months not enrolled), <= 0."""
        return sum((v for (kind, _), v in self.amounts.items() if kind == "STOP"),
                   Decimal("0.00"))

    def to_json(self) -> dict[str, object]:
        """Deterministic (no timings): two runs on the same input give the same file."""
        return {
            "inputs": dict(sorted(self.inputs.items())),
            "duplicates": self.duplicates,
            "members": self.members,
            "decisions": [
                {"outcome": o, "reason": r, "count": n}
                for (o, r), n in sorted(self.decisions.items())
            ],
            "original_decisions": sum(self.decisions.values()),
            "corrections": self.corrections,
            "requires_review": self.requires_review,
            "dead_letters": dict(sorted(self.dead_letters.items())),
            "adjustments": [
                {"kind": k, "basis": b, "count": n,
                 "amount": str(self.amounts.get((k, b), Decimal("0.00")))}
                for (k, b), n in sorted(self.adjustments.items())
            ],
            "recovered_amount": str(self.recovered_amount),
            "net_amount": str(self.net_amount),
        }
