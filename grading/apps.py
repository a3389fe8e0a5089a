from django.apps import AppConfig


class GradingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "grading"

    def ready(self):
        from accounts.signals import user_deleting
        from courses.signals import course_deleting
        from grading import services

        # Deleting a course or an account takes its results with it, through the grade service.
        course_deleting.connect(services.before_course_delete, dispatch_uid="grading.before_course_delete")
        user_deleting.connect(services.before_user_delete, dispatch_uid="grading.before_user_delete")
