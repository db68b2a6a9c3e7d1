"""Partners' encryption keys: a KMS key of their own that only the builder may decrypt with."""

import json

from tests.infra.walk import of_type


def secrets_key_id(resources):
    keys = of_type(resources, "AWS::KMS::Key")
    found = [logical_id for logical_id, key in keys.items() if "encryptionKey" in key["Properties"]["Description"]]
    assert len(found) == 1
    return found[0]


def roles_allowed(resources, action, key_id):
    """Logical ids of the roles whose policies allow `action` on the key."""
    roles: set[str] = set()
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if action in actions and key_id in json.dumps(statement.get("Resource")):
                roles.update(role["Ref"] for role in policy["Properties"]["Roles"])
    return roles


def function_role(resources, function_fragment):
    functions = of_type(resources, "AWS::Lambda::Function")
    matches = [f["Properties"]["Role"]["Fn::GetAtt"][0] for lid, f in functions.items() if function_fragment in lid]
    assert matches, function_fragment
    return set(matches)


def test_only_the_builder_can_decrypt_partners_keys(resources):
    key_id = secrets_key_id(resources)
    decrypting = roles_allowed(resources, "kms:Decrypt", key_id)
    assert decrypting
    assert decrypting == function_role(resources, "BuilderFunction")  # BuildBatch's function, not Plan's


def test_submit_can_encrypt_partners_keys_but_not_decrypt_them(resources):
    key_id = secrets_key_id(resources)
    submit_role = function_role(resources, "SubmitFunction")
    assert submit_role <= roles_allowed(resources, "kms:Encrypt", key_id)
    assert not submit_role & roles_allowed(resources, "kms:Decrypt", key_id)


def test_functions_learn_the_secrets_key_from_their_environment(resources):
    key_id = secrets_key_id(resources)
    submit = next(f for lid, f in of_type(resources, "AWS::Lambda::Function").items() if "SubmitFunction" in lid)
    assert key_id in json.dumps(submit["Properties"]["Environment"]["Variables"]["EXHAUST_SECRETS_KEY_ID"])
