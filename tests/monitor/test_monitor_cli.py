"""`advertisex monitor`: bad arguments and a missing Kafka say what to do."""

from typer.testing import CliRunner

from advertisex.cli import app
from advertisex.stack.process import port_free

runner = CliRunner(env={"COLUMNS": "200"})  # no wrapping inside the error box


def test_an_unknown_setting_lists_the_known_ones():
    result = runner.invoke(app, ["monitor", "--set", "invalid_rate=0.1"])
    assert result.exit_code == 2
    assert "--set 'invalid_rate=0.1': use FIELD=VALUE with a field of:" in result.output
    assert "invalid_rate_max" in result.output


def test_a_bad_value_names_the_setting():
    result = runner.invoke(app, ["monitor", "--set", "invalid_rate_max=2"])
    assert result.exit_code == 2
    assert "--set invalid_rate_max: Input should be less than or equal to 1" in result.output


def test_no_kafka_says_how_to_start_it():
    port = 1
    assert port_free("127.0.0.1", port)
    result = runner.invoke(app, ["monitor", "--bootstrap", f"127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert f"no Kafka broker answers at 127.0.0.1:{port}" in result.output
    assert "advertisex stack up" in result.output
