import pytest
from pydantic import ValidationError

from ragline.config import Settings


def test_defaults_are_local_and_sane() -> None:
    settings = Settings(_env_file=None)
    assert (settings.chunk_size, settings.chunk_overlap) == (1000, 150)
    assert settings.resolved_embedding_provider == "local"
    assert settings.embedding_model_name == "local:all-MiniLM-L6-v2"
    assert settings.visibility_timeout_seconds > settings.task_time_limit_seconds


def test_environment_overrides_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLINE_CHUNK_SIZE", "500")
    monkeypatch.setenv("RAGLINE_REDIS_URL", "redis://example:6380/2")
    settings = Settings()
    assert settings.chunk_size == 500
    assert str(settings.redis_url) == "redis://example:6380/2"


def test_standard_openai_key_switches_embeddings_to_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    settings = Settings()
    assert settings.openai_api_key is not None and settings.openai_api_key.get_secret_value() == "sk-test"
    assert settings.embedding_model_name == "openai:text-embedding-3-small"
    assert "sk-test" not in repr(settings)


def test_base_url_alone_selects_an_openai_compatible_server() -> None:
    assert Settings(embeddings_base_url="http://127.0.0.1:9/v1").resolved_embedding_provider == "openai"
    assert Settings(embeddings_base_url="http://x/v1", embedding_provider="local").resolved_embedding_provider == "local"


@pytest.mark.parametrize(("field", "value"), [("chunk_overlap", 1000), ("chunk_size", 10), ("embedding_provider", "magic")])
def test_invalid_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Settings(**{field: value})
