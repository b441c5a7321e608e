"""The functions jar's cache folder follows its sources: a digest over everything it is built
from (checked on a copy, so the repository is never touched)."""

import shutil

from advertisex.contract.schemas import SCHEMA_DIR
from advertisex.stack import jars
from advertisex.stack.versions import JVM_DIR


def copy_of_the_sources(tmp_path):
    java = tmp_path / "java"
    (java / "src" / "main" / "java" / "io" / "advertisex").mkdir(parents=True)
    shutil.copy(jars.FUNCTIONS_DIR / "pom.xml", java / "pom.xml")
    (java / "src" / "main" / "java" / "io" / "advertisex" / "A.java").write_text("class A {}\n")
    parent = tmp_path / "parent.xml"
    shutil.copy(JVM_DIR / "pom.xml", parent)
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, schemas)
    return java, parent, schemas


def test_the_digest_changes_with_each_input_and_only_with_them(tmp_path):
    java, parent, schemas = copy_of_the_sources(tmp_path)
    source = java / "src" / "main" / "java" / "io" / "advertisex" / "A.java"
    digests = [jars.functions_digest(java, parent, schemas)]
    assert jars.functions_digest(java, parent, schemas) == digests[0]  # stable

    source.write_text("class A { int x; }\n")
    digests.append(jars.functions_digest(java, parent, schemas))
    source.rename(source.with_name("B.java"))  # same bytes, another name
    digests.append(jars.functions_digest(java, parent, schemas))
    (java / "src" / "main" / "resources").mkdir(parents=True)
    (java / "src" / "main" / "resources" / "x.properties").write_text("a=1\n")
    digests.append(jars.functions_digest(java, parent, schemas))
    with open(parent, "a") as pom:
        pom.write("<!-- a new pin -->\n")
    digests.append(jars.functions_digest(java, parent, schemas))
    with open(schemas / "bid_request.avsc", "a") as avsc:
        avsc.write("\n")
    digests.append(jars.functions_digest(java, parent, schemas))
    with open(schemas / "outputs" / "clicks.schema.json", "a") as output:
        output.write("\n")
    digests.append(jars.functions_digest(java, parent, schemas))
    assert len(set(digests)) == 7

    # Files the pom does not package, and build output outside src/, do not count.
    (schemas / "pinot" / "extra.json").write_text("{}")
    (java / "target").mkdir()
    (java / "target" / "stale.class").write_bytes(b"\xca\xfe")
    assert jars.functions_digest(java, parent, schemas) == digests[-1]


def test_the_jar_lands_in_a_folder_named_by_the_digest_of_the_repository_sources():
    path = jars.functions_jar_path()
    assert path.name == "advertisex-flink-functions.jar"
    assert path.parent.name == f"functions-{jars.functions_digest()}"
    assert path.parent.parent.name == "jars"
