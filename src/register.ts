// Side-effect imports that register every built-in controller with src/controllers.ts.
import "./operator/controller.js";
import "./scaler/controller.js";
import "./nodes/controller.js";
import "./recommender/controller.js";
