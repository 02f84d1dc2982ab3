"""Every page renders for the people who may see it."""
from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from advisor import accounts, upload_links
from models import db

from .test_access import url as object_url
from .test_access import with_records


def test_login_page_renders(client):
    response = client.get("/auth/login")
    assert response.status_code == 200
    assert b"Sign in" in response.data


@pytest.mark.parametrize("path", ["/", "/cases/", "/applicants/", "/applicants/new", "/auth/account/password"])
def test_advisor_pages_render(client, auth, advisor, make_case, path):
    make_case(advisor, chinese_name="李明")
    auth.login(advisor.email)
    response = client.get(path)
    assert response.status_code == 200, response.data[:2000]


def test_case_and_applicant_pages_render(client, auth, advisor, make_case):
    case = make_case(advisor)
    auth.login(advisor.email)
    for path in (f"/cases/{case.id}", f"/cases/{case.id}/edit", f"/applicants/{case.applicant_id}",
                 f"/applicants/{case.applicant_id}/edit", f"/cases/new/{case.applicant_id}"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.data[:3000])
        assert case.reference.encode() in response.data or b"Okafor" in response.data or b"OKAFOR" in response.data


def test_admin_pages_render(client, auth, admin, advisor, make_case):
    case = make_case(advisor)
    auth.login(admin.email)
    for path in ("/admin/users", "/admin/users/new", f"/admin/users/{advisor.id}/edit",
                 f"/admin/users/{advisor.id}/deactivate", f"/admin/users/{advisor.id}/reset-password",
                 "/audit/", f"/audit/?case={case.reference}&user={admin.id}&date_from=2020-01-01",
                 f"/cases/{case.id}/delete", f"/applicants/{case.applicant_id}/delete"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.data[:3000])


def test_case_page_shows_title_breadcrumbs_and_history_once(client, auth, advisor, make_case):
    case = make_case(advisor)
    auth.login(advisor.email)
    client.post(f"/cases/{case.id}/edit", data={"consulate_code": "DE-BER", "case_notes": "Moved to Berlin",
                                                "version": case.version})
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    soup = BeautifulSoup(html, "html.parser")
    assert soup.title.get_text(strip=True) == f"{case.reference} · Advisor"
    assert [li.get_text(strip=True) for li in soup.select(".breadcrumbs li")] == ["Cases", case.reference]
    assert html.count("<h2>History</h2>") == 1
    actions = [code.get_text() for code in soup.select(".timeline code")]
    assert actions == ["case.update", "case.create"]


# Every page of the URL map is served as HTML -------------------------------------------------------------

# Routes that answer with something other than a page, and what they answer with.
NOT_PAGES = {
    "cases.export": "text/csv; charset=utf-8",
    "documents.download": "application/pdf",
    "documents.thumbnail": "image/",
    "institutions.suggest": "application/json",
    "main.health": "application/json",
    "packets.download": "application/pdf",
    "static": "text/css; charset=utf-8",
}
# Pages that answer something other than 200 here, still as a page: no background jobs without REDIS_URL.
NOT_FOUND_HERE = {"packets.job"}
ANONYMOUS = {"auth.login", "auth.set_password", "upload_links.public"}


def test_every_page_route_answers_html(app, client, auth, admin, advisor, make_case, institution):
    case = with_records(make_case(advisor, chinese_name="李明"), advisor, institution)
    link_token = upload_links.create_link(case, upload_links.linkable_lines(case)[:1], days=3, message="",
                                          by=advisor)[1]
    password_token = accounts.issue_password_link(advisor, by=admin, purpose="reset")
    db.session.commit()
    values = {"user_id": advisor.id, "institution_id": institution.id, "token": link_token,
              "filename": "css/advisor.css"}
    anonymous = app.test_client()
    auth.login(admin.email)
    adapter = app.url_map.bind("advisor.test")
    walked = set()
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.endpoint):
        if "GET" not in (rule.methods or ()):
            continue
        if rule.arguments & {"case_id", "applicant_id"}:
            path = object_url(app, rule, case_id=case.id, applicant_id=case.applicant_id)
        else:
            arguments = {**values, "token": password_token} if rule.endpoint == "auth.set_password" else values
            path = adapter.build(rule.endpoint, {name: arguments[name] for name in rule.arguments})
        if rule.endpoint == "institutions.suggest":
            path += "?q=Access"
        response = (anonymous if rule.endpoint in ANONYMOUS else client).get(path)
        expected_status = 404 if rule.endpoint in NOT_FOUND_HERE else 200
        assert response.status_code == expected_status, (rule.endpoint, response.status_code, response.data[:500])
        if rule.endpoint in NOT_PAGES:
            assert response.content_type.startswith(NOT_PAGES[rule.endpoint]), (rule.endpoint, response.content_type)
        else:
            assert response.content_type == "text/html; charset=utf-8", (rule.endpoint, response.content_type)
            soup = BeautifulSoup(response.data, "html.parser")
            assert soup.find("body") is not None and soup.find("h1") is not None, rule.endpoint
        walked.add(rule.endpoint)
    assert {"upload_links.public", "cases.detail", "admin.users", "eligibility.summary", "documents.letter"} <= walked
