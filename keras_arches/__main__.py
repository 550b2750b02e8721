import sys

from keras_arches.cli import main

sys.exit(main())
