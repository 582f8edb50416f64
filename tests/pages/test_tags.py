"""The tags screen (pages/tags.py) in AppTest: members tag their projects, administrators curate
the shared catalogue; checked in the database."""

from tests.pages.helpers import by_label, run_page, scalar


def test_contributor_tags_a_project_and_a_viewer_cannot(demo_rw_env):
    viewer = run_page("tags", "viewer@example.com")
    assert "do not let you tag" in viewer.info[0].value
    at = run_page("tags", "contributor@example.com")
    project = scalar("select id from projects.projects where name = 'Billing Revamp'")
    finance = scalar("select id from projects.tag_reference where name = 'Finance'")
    at.selectbox(key="tag-project").set_value(project)
    at.run()
    at.multiselect[0].select(finance)
    by_label(at.button, "Save tags").click()
    at.run()
    assert not at.error
    assert scalar("select count(*) from projects.project_tag where project_id = :p and tag_id = :t",
                  p=project, t=finance) == 1  # fmt: skip


def test_only_administrators_are_offered_the_catalogue_forms(demo_env):
    at = run_page("tags", "lead@example.com")  # owns projects, but the catalogue is everyone's
    assert not [b for b in at.button if b.label in ("Create tag", "Save tag")]
    assert any("administrators curate" in c.value for c in at.caption)


def test_a_bad_tag_category_is_refused_with_its_rule(demo_rw_env):
    before = scalar("select count(*) from projects.tag_reference")
    at = run_page("tags", "admin@example.com")
    at.text_input(key="tag-name").input("Q4")
    at.text_input(key="tag-category").input("Not A Slug!")
    by_label(at.button, "Create tag").click()
    at.run()
    assert "category is 1 to 40 lowercase letters" in at.error[0].value
    assert scalar("select count(*) from projects.tag_reference") == before
