from django.apps import AppConfig


class GradingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "grading"

    def ready(self):
        from django.db.models.signals import post_save

        from accounts.signals import user_deleting
        from courses import embeds
        from courses.models import Course
        from courses.signals import course_deleting, late_policy_changed
        from grading import services
        from grading.embeds import COURSE_TESTS

        # Every course has a grade category from its first moment, however it was created.
        post_save.connect(services.after_course_save, sender=Course, dispatch_uid="grading.after_course_save")

        # Deleting a course or an account takes its results with it, through the grade service.
        course_deleting.connect(services.before_course_delete, dispatch_uid="grading.before_course_delete")
        user_deleting.connect(services.before_user_delete, dispatch_uid="grading.before_user_delete")
        # A course's late policy governs its online tests' stored scores: they follow it.
        late_policy_changed.connect(services.after_late_policy_change, dispatch_uid="grading.after_late_policy_change")

        # A course's representation embeds its tests: grading's data, written by grading's SQL.
        embeds.register(COURSE_TESTS)
