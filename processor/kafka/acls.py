"""The Kafka ACLs the processor needs, and nothing more (RUNBOOK.md "Least privilege").

Two principals: an instance (`run`) and the operator's tools (`topics create`, `load`,
`dump`, range replays, `rewind`, `redecide`). The lists are built from the settings, so
they name the deployment's own topics, group and transactional-id prefix;
`aor-processor topics acls` prints them as `kafka-acls.sh` commands, and
tests/security runs the whole cycle on a broker with an authorizer and only these ACLs.
"""

from __future__ import annotations

from dataclasses import dataclass

from processor.config import Settings


@dataclass(frozen=True)
class Grant:
    """One ACL: operations allowed on a resource (a literal name or a prefix)."""

    resource: str  # TOPIC | GROUP | TRANSACTIONAL_ID | CLUSTER
    name: str
    prefixed: bool
    operations: tuple[str, ...]  # READ, WRITE, DESCRIBE, CREATE, DESCRIBE_CONFIGS, ...
    why: str


def instance_grants(settings: Settings) -> tuple[Grant, ...]:
    """What `run` needs: consume the inputs, produce the outputs and the changelog in
    transactions, commit the group's offsets in them, restore the changelog."""
    s, app = settings, settings.application_id
    return (
        *(Grant("TOPIC", t, False, ("READ", "DESCRIBE"), "input")
          for t in (s.enrollments_topic, s.plan_changes_topic, s.agent_status_topic)),
        *(Grant("TOPIC", t, False, ("WRITE", "DESCRIBE"), "output")
          for t in (s.assignments_topic, s.adjustments_topic, s.dead_letters_topic)),
        Grant("TOPIC", s.changelog_topic, False, ("READ", "WRITE", "DESCRIBE"),
              "member state: written in the transaction, read to restore"),
        # The group itself, and per instance `<app>.agent-table.<id>` and
        # `<app>.restore.<id>` (assigned reads; they never commit).
        Grant("GROUP", app, True, ("READ", "DESCRIBE"),
              "the consumer group and the instances' own reader groups"),
        Grant("TRANSACTIONAL_ID", f"{app}-", True, ("WRITE", "DESCRIBE"),
              "one transactional id per instance: <app>-<instance id>"),
    )


def operator_grants(settings: Settings) -> tuple[Grant, ...]:
    """What the operator's tools need besides: create and check topics, publish inputs,
    read outputs, rebuild or re-decide the changelog."""
    s, app = settings, settings.application_id
    every = (s.enrollments_topic, s.plan_changes_topic, s.agent_status_topic,
             s.assignments_topic, s.adjustments_topic, s.dead_letters_topic, s.changelog_topic)
    return (
        *(Grant("TOPIC", t, False, ("CREATE", "DESCRIBE", "DESCRIBE_CONFIGS", "READ"),
                "topics create and topics check; dump, replays, rewind and redecide read")
          for t in every),
        *(Grant("TOPIC", t, False, ("WRITE",), "load publishes the inputs")
          for t in (s.enrollments_topic, s.plan_changes_topic, s.agent_status_topic)),
        *(Grant("TOPIC", t, False, ("WRITE",), "redecide --live writes")
          for t in (s.assignments_topic, s.adjustments_topic, s.dead_letters_topic,
                    s.changelog_topic)),
        Grant("GROUP", app, True, ("READ", "DESCRIBE"),
              "readers that never commit (<app>.range-replay.*, <app>-dump-*, ...); rewind "
              "describes the group and moves its offsets"),
        Grant("TRANSACTIONAL_ID", f"{app}-", True, ("WRITE", "DESCRIBE"),
              "rewind and redecide --live write in transactions"),
    )


def kafka_acls_commands(principal: str, grants: tuple[Grant, ...],
                        bootstrap: str = "$BROKERS") -> list[str]:
    """The grants as `kafka-acls.sh --add` commands, one per resource."""
    flag = {"TOPIC": "--topic", "GROUP": "--group", "TRANSACTIONAL_ID": "--transactional-id",
            "CLUSTER": "--cluster"}
    out = []
    for g in grants:
        operations = " ".join(f"--operation {o.title().replace('_', '')}"
                              for o in g.operations)
        pattern = " --resource-pattern-type prefixed" if g.prefixed else ""
        out.append(f"kafka-acls.sh --bootstrap-server {bootstrap} --add --allow-principal "
                   f"{principal} {operations} {flag[g.resource]} {g.name}{pattern}  # {g.why}")
    return out


__all__ = ["Grant", "instance_grants", "kafka_acls_commands", "operator_grants"]
