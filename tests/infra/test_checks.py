"""The synthesized app passes cdk-nag's AwsSolutions checks and cfn-lint."""

from pathlib import Path

from cfnlint.api import ManualArgs, lint_file

# W3005: CDK makes each Lambda depend explicitly on its role, which the Role GetAtt already orders; redundant and
# harmless, and not something the app can remove.
CFN_LINT_IGNORED = ["W3005"]


def test_synthesis_has_no_unacknowledged_cdk_nag_or_validation_finding(synthesis):
    report = synthesis.validation_report()
    plugins = {plugin["pluginName"]: plugin for plugin in report["pluginReports"]}
    assert "AwsSolutions" in plugins, "cdk-nag's AwsSolutions pack did not run"
    findings = [
        f"{plugin}: {violation['ruleName']} at {construct['constructPath']}"
        for plugin, result in plugins.items()
        for violation in result["violations"]
        for construct in violation["violatingConstructs"]
    ]
    assert not findings, "\n".join(findings)
    assert synthesis.error is None, synthesis.error


def test_every_acknowledgement_carries_a_reason(synthesis):
    report = synthesis.validation_report()
    acknowledged = [v for plugin in report["pluginReports"] for v in plugin.get("suppressedViolations", [])]
    assert acknowledged, "expected the documented acknowledgements (public routes, X-Ray, ...)"
    for violation in acknowledged:
        assert len(violation["reason"]) >= 40, violation


def test_cfn_lint_passes_on_the_template(synthesis):
    matches = lint_file(Path(synthesis.template_path), ManualArgs(ignore_checks=CFN_LINT_IGNORED))
    assert not matches, "\n".join(f"{m.rule.id} {m.message} ({m.filename}:{m.linenumber})" for m in matches)
