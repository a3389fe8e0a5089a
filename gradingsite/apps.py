from django.contrib.admin.apps import AdminConfig


class GradingAdminConfig(AdminConfig):
    default_site = "gradingsite.admin_site.GradingAdminSite"
