"""Every page renders for the people who may see it."""
from __future__ import annotations

import pytest
from bs4 import BeautifulSoup


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
