"""Zipping a source folder for a job: .gitignore rules as git reads them, links, the size limit."""

from __future__ import annotations

import os
import zipfile

import pytest
from studio_sdk.snapshots import Ignores, SnapshotTooLarge, collect, parse_rules, zip_folder


def excluded(gitignore: str, path: str, is_dir: bool = False) -> bool:
    return Ignores(parse_rules(gitignore)).excluded(path, is_dir)


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "expected"),
    [
        ("*.csv", "data.csv", False, True),
        ("*.csv", "deep/down/data.csv", False, True),
        ("*.csv", "data.csv.py", False, False),
        ("data/", "data", True, True),
        ("data/", "data", False, False),  # a trailing slash matches folders only
        ("data/", "src/data", True, True),
        ("/data", "src/data", True, False),  # a leading slash anchors to the top
        ("/data", "data", False, True),
        ("src/*.tmp", "src/a.tmp", False, True),
        ("src/*.tmp", "src/sub/a.tmp", False, False),  # '*' does not cross '/'
        ("**/cache", "a/b/cache", True, True),
        ("logs/**", "logs/a/b.txt", False, True),
        ("a/**/z", "a/z", False, True),
        ("a/**/z", "a/b/c/z", False, True),
        ("file?.txt", "file1.txt", False, True),
        ("file[0-9].txt", "file7.txt", False, True),
        ("file[!0-9].txt", "file7.txt", False, False),
        ("# a comment", "# a comment", False, False),
        ("\\#hash", "#hash", False, True),
    ],
)
def test_patterns_match_as_in_git(pattern, path, is_dir, expected):
    assert excluded(pattern, path, is_dir) is expected


def test_the_last_matching_rule_wins_and_a_bang_re_includes():
    rules = "*.log\n!keep.log\n"
    assert excluded(rules, "run.log")
    assert not excluded(rules, "keep.log")
    assert excluded(rules + "keep.log\n", "keep.log")


def test_git_and_pycache_folders_are_always_left_out():
    assert Ignores().excluded(".git", True)
    assert Ignores().excluded("pkg/__pycache__", True)
    assert not Ignores().excluded("pkg", True)


def make_tree(root, files: dict[str, str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def test_a_snapshot_leaves_out_what_gitignore_files_exclude_at_every_level(tmp_path):
    make_tree(
        tmp_path,
        {
            ".gitignore": "data/\n*.ckpt\n",
            "train.py": "print(1)",
            "data/big.csv": "1,2",
            "model.ckpt": "weights",
            "src/.gitignore": "generated.py\n!keep.ckpt\n",
            "src/generated.py": "",
            "src/lib.py": "",
            "src/keep.ckpt": "",
            "notes/generated.py": "",
            ".git/HEAD": "ref",
        },
    )
    files, skipped = collect(tmp_path)

    assert [f.path for f in files] == [
        ".gitignore",
        "notes/generated.py",  # src/.gitignore rules apply under src/ only
        "src/.gitignore",
        "src/keep.ckpt",
        "src/lib.py",
        "train.py",
    ]
    assert skipped == []


def test_links_inside_the_folder_are_stored_as_files_and_links_out_are_left_out(tmp_path):
    outside = tmp_path / "outside"
    make_tree(outside, {"secret.txt": "s"})
    project = tmp_path / "project"
    make_tree(project, {"train.py": "x", "conf/a.yaml": "a: 1"})
    os.symlink(project / "conf/a.yaml", project / "a.yaml")
    os.symlink(outside / "secret.txt", project / "secret.txt")
    os.symlink(outside, project / "linked-folder")

    out = tmp_path / "snap.zip"
    zip_folder(project, out)

    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["a.yaml", "conf/a.yaml", "train.py"]
        assert archive.read("a.yaml") == b"a: 1"
    assert sorted(collect(project)[1]) == ["linked-folder", "secret.txt"]


def test_a_folder_past_the_limit_is_refused_naming_the_largest_files(tmp_path):
    make_tree(tmp_path / "p", {"weights.bin": "x" * 5000, "train.py": "print(1)"})

    with pytest.raises(SnapshotTooLarge, match=r"at most 1000 are accepted.*weights.bin \(5000 bytes\)"):
        zip_folder(tmp_path / "p", tmp_path / "s.zip", max_bytes=1000)


def test_it_refuses_a_path_that_is_not_a_folder(tmp_path):
    with pytest.raises(NotADirectoryError):
        collect(tmp_path / "missing")
