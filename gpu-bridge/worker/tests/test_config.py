"""Start-up configuration: defaults that serialize one GPU, clear errors, no secrets in logs."""

import pytest

from spinbot_worker.config import ConfigError, load_config, redact_url


def test_defaults(tmp_path):
    config = load_config({"REDIS_URL": "redis://127.0.0.1:6379", "SPINBOT_DATA_DIR": str(tmp_path / "data")})
    assert (config.queue, config.concurrency, config.lock_duration_ms, config.stalled_interval_ms) == ("spinbot-gpu", 1, 30000, 30000)
    assert config.backend_choices == {"tts": "auto", "visuals": "auto", "upscale": "auto"}
    assert (tmp_path / "data").is_dir()


def test_every_problem_is_listed_at_once(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config({"REDIS_URL": "http://x", "SPINBOT_DATA_DIR": str(tmp_path),
                     "SPINBOT_WORKER_CONCURRENCY": "two", "SPINBOT_LOCK_DURATION_MS": "10", "SPINBOT_QUEUE": "a:b"})
    text = str(caught.value)
    for words in ("REDIS_URL must start with redis://", "SPINBOT_WORKER_CONCURRENCY must be a whole number",
                  "SPINBOT_LOCK_DURATION_MS must be at least 1000", "SPINBOT_QUEUE must not contain ':'"):
        assert words in text


def test_passwords_are_redacted():
    assert redact_url("redis://user:s3cret@redis.internal:6380/2") == "redis://user:***@redis.internal:6380/2"
    assert redact_url("rediss://:s3cret@host") == "rediss://:***@host"
    assert redact_url("redis://127.0.0.1:6379") == "redis://127.0.0.1:6379"
    with pytest.raises(ConfigError) as caught:
        load_config({"REDIS_URL": "http://:s3cret@host", "SPINBOT_DATA_DIR": "/tmp"})
    assert "s3cret" not in str(caught.value)


def test_the_gpu_engine_settings_are_checked_and_kept(tmp_path):
    base = {"REDIS_URL": "redis://127.0.0.1:6379", "SPINBOT_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "models").mkdir()
    config = load_config({**base, "COMFYUI_URL": "http://comfyui:8188/", "SPINBOT_MODELS_DIR": str(tmp_path / "models")})
    assert (config.comfyui_url, config.models_dir) == ("http://comfyui:8188", tmp_path / "models")
    assert "spinbot_worker.comfyui.backends" in config.plugins
    assert (load_config(base).comfyui_url, load_config(base).models_dir) == (None, None)
    (tmp_path / "file").write_text("")
    for env, words in (({"COMFYUI_URL": "http://comfyui:port"}, "COMFYUI_URL must be an http:// or https:// address"),
                       ({"SPINBOT_MODELS_DIR": str(tmp_path / "missing")}, f"SPINBOT_MODELS_DIR {tmp_path / 'missing'} does not exist"),
                       ({"SPINBOT_MODELS_DIR": str(tmp_path / "file")}, f"SPINBOT_MODELS_DIR {tmp_path / 'file'} is not a folder")):
        with pytest.raises(ConfigError) as caught:
            load_config({**base, **env})
        assert words in str(caught.value)
