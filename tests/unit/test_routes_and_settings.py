from pathlib import Path

from exhaust import resources
from exhaust.api.routes import ROUTES, find_route
from exhaust.settings import RuntimeSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_every_route_has_a_handler_in_functions():
    for route in ROUTES:
        assert (REPO_ROOT / "functions" / route.function / "handler.py").is_file(), route


def test_routes_are_unique():
    keys = [(route.method, route.path) for route in ROUTES]
    assert len(keys) == len(set(keys))


def test_path_parameters_are_matched():
    found = find_route("GET", "/api/health")
    assert found is not None
    assert found[1] == {}
    assert find_route("DELETE", "/api/health") is None


def test_every_resource_env_var_is_a_settings_field():
    fields = {f"EXHAUST_{name.upper()}" for name in RuntimeSettings.model_fields}
    names = [spec.env_var for spec in resources.TABLES] + [spec.env_var for spec in resources.BUCKETS]
    names += [resources.EXHAUST_QUEUE.env_var, resources.EXHAUST_QUEUE.dead_letter_env_var]
    names.append(resources.SECRETS_KEY_ENV_VAR)
    assert set(names) <= fields


def test_settings_read_from_environment_and_round_trip():
    settings = RuntimeSettings.from_environ({"EXHAUST_REQUESTS_TABLE": "t1", "EXHAUST_LINK_EXPIRY_SECONDS": "600"})
    assert settings.requests_table == "t1"
    assert settings.link_expiry_seconds == 600
    assert RuntimeSettings.from_environ(settings.as_environ()) == settings


def test_each_function_folder_serves_exactly_the_operations_declared_for_it():
    import importlib.util

    for function in sorted({route.function for route in ROUTES}):
        spec = importlib.util.spec_from_file_location(
            f"handler_{function}", REPO_ROOT / "functions" / function / "handler.py"
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        served = {id(operation) for operation in module.answer.operations}
        assert served == {id(route) for route in ROUTES if route.function == function}, function
