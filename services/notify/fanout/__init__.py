"""What goes to every customer: terms versions and announcements, fanned out in batches."""
