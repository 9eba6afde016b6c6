"""What users hear: Piper narration for English that Whisper understands word for word, espeak-ng for
languages Piper lacks (and the result says so), sentence timings that match when each sentence is
heard (the subtitles follow them), and a saved voice sample's transcript."""

import json

import pytest

from spinbot_worker import asr
from spinbot_worker.backends import PiperTts, StageContext, TtsRequest
from spinbot_worker.backends.narration import split_sentences
from spinbot_worker.contracts import schema_errors
from spinbot_worker.errors import StageFailure
from spinbot_worker.storage import FileStorage
from support import contract_fixture
from test_render_pipeline import run_job

NARRATION = ("Sunlight looks white, but it is a mix of every colour. "
             "Air scatters the short blue waves far more than the long red ones. "
             "That is why the whole sky glows blue at noon.")
PORTUGUESE = "O céu parece azul porque o ar espalha mais a luz azul do que a vermelha."


@pytest.fixture
def ctx(tmp_path) -> StageContext:
    workdir = tmp_path / "work"
    workdir.mkdir()
    return StageContext(job_id="voice-test-1", attempt=1, storage=FileStorage(tmp_path / "data"), workdir=workdir)


def speak(ctx, text: str, seconds: float, key: str = "jobs/voice-test-1/scene-01.wav"):
    request = TtsRequest(text=text, language="en", voice_engine="espeak-ng", voice_id="en-us", speed=1.0,
                         reference_key=None, max_seconds=seconds, out_key=key)
    return PiperTts().run(request, ctx), ctx.storage.path_for(key)


def test_piper_narration_is_understood_word_for_word(ctx):
    result, wav = speak(ctx, NARRATION, 30)
    heard = asr.transcribe(wav, language="en")
    error_rate = asr.word_error_rate(NARRATION, heard.text)
    assert error_rate <= 0.15, f"WER {error_rate:.0%}: heard {heard.text!r}"
    assert result.audio_seconds == pytest.approx(heard.seconds, abs=0.05)


def test_every_sentence_is_timed_to_within_0_3_s_of_when_it_is_heard(ctx):
    result, wav = speak(ctx, NARRATION, 30)
    assert [s.text for s in result.sentences] == split_sentences(NARRATION)
    heard = asr.transcribe(wav, language="en", word_timestamps=True)
    # Whisper names the words; where each begins is sharpened to where its sound starts.
    matched = asr.match_words(NARRATION, asr.sharpen_starts(wav, heard.words))
    first_word, checked = 0, 0
    for sentence in result.sentences:
        word = matched[first_word]
        if word is not None:  # Whisper may mishear a sentence's first word; the others must line up
            checked += 1
            assert abs(sentence.start - word.start) <= 0.3, (sentence, word)
        first_word += len(asr.normalize_words(sentence.text))
    assert checked >= len(result.sentences) - 1, f"Whisper placed {checked} of {len(result.sentences)} sentence starts"
    assert 0 < result.sentences[-1].end <= result.audio_seconds


def test_narration_too_long_for_its_scene_is_spoken_faster_and_stays_understandable(ctx):
    natural, _ = speak(ctx, NARRATION, 30)
    assert natural.audio_seconds > 8  # the premise: at its natural pace this overruns an 8 s scene
    fitted, wav = speak(ctx, NARRATION, 8)
    assert fitted.audio_seconds <= 8
    assert fitted.sentences[-1].start < natural.sentences[-1].start  # the timings follow the faster speech
    assert asr.word_error_rate(NARRATION, asr.transcribe(wav, language="en").text) <= 0.15


def test_an_english_plan_is_narrated_by_piper_and_a_portuguese_one_by_espeak_ng(tmp_path):
    storage = FileStorage(tmp_path / "data")
    english, _ = run_job(contract_fixture("valid-render.json"), storage, tmp_path)
    assert english["backends"]["tts"]["name"] == "Piper joe-medium (CPU)"
    assert all(scene["sentences"] for scene in english["scenes"])

    plan = contract_fixture("valid-render.json")["plan"]
    plan["language"] = "pt-br"
    plan["voice"]["id"] = "pt-br"
    plan["scenes"] = [{**plan["scenes"][0], "narration": PORTUGUESE, "seconds": 8}]
    portuguese, _ = run_job(contract_fixture("valid-render.json", jobId="fixture-render-pt", plan=plan), storage, tmp_path)
    assert schema_errors("render-result", portuguese) == []
    assert portuguese["backends"]["tts"]["name"] == "espeak-ng (CPU)"
    heard = asr.transcribe(storage.path_for(portuguese["scenes"][0]["audioKey"]))
    assert heard.language == "pt"  # Portuguese words, not English phonetics


def transcribe_job(**changes) -> dict:
    job = {"kind": "transcribe", "contractVersion": 1, "jobId": "transcribe-voice-1",
           "requestedBy": {"platform": "test", "userId": "u1"},
           "audioKey": "users/test/u1/voices/anna.wav", "transcriptKey": "users/test/u1/voices/anna.json"}
    return {**job, **changes}


def test_a_saved_voice_sample_gets_its_transcript_stored_beside_it(ctx, tmp_path):
    said = "Hello, this is Anna. I would like my videos narrated in this voice."
    speak(ctx, said, 30, key="users/test/u1/voices/anna.wav")
    result, events = run_job(transcribe_job(), ctx.storage, tmp_path)
    assert schema_errors("transcribe-result", result) == []
    assert asr.word_error_rate(said, result["text"]) <= 0.15, result["text"]
    assert result["language"] == "en" and result["backend"]["name"] == "Whisper base (CPU)"
    with ctx.storage.open("users/test/u1/voices/anna.json") as stored:
        assert json.load(stored)["text"] == result["text"]
    assert [e["percent"] for e in events if e["stage"] == "transcribe"][-1] == 100


def test_transcribing_a_sample_that_is_not_stored_says_so_and_stores_nothing(tmp_path):
    storage = FileStorage(tmp_path / "data")
    with pytest.raises(StageFailure) as caught:
        run_job(transcribe_job(), storage, tmp_path)
    assert (caught.value.stage, caught.value.code, caught.value.retryable) == ("transcribe", "MISSING_ARTIFACT", False)
    assert "upload it again" in caught.value.message
    assert not storage.exists("users/test/u1/voices/anna.json")


def test_word_error_rate_counts_what_was_misheard():
    assert asr.word_error_rate("The sky is blue.", "the sky is blue") == 0
    assert asr.word_error_rate("The sky is blue.", "The sky was blue, too") == pytest.approx(2 / 4)


def test_a_known_text_lines_up_with_what_was_heard_even_when_words_are_split_or_missed():
    heard = [asr.Word("Sun", 0.1, 0.3), asr.Word("light", 0.3, 0.6), asr.Word("looks", 0.6, 0.9),
             asr.Word("white.", 0.9, 1.3), asr.Word("Blue", 1.8, 2.0), asr.Word("skies!", 2.0, 2.5)]
    matched = asr.match_words("Sunlight looks white. Grey clouds, blue skies.", heard)
    assert [w.start if w else None for w in matched] == [0.1, 0.6, 0.9, None, None, 1.8, 2.0]
